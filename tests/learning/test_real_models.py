"""One retraining cycle per kind with the real training and evaluation code (the bundled MiniLM;
for the dialogue model, a tiny causal LM with the SmolLM2 tokenizer, so it runs in seconds)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from chatbot.intent_models.models import Intent, IntentAction
from chatbot.knowledge.models import FaqEntry
from chatbot.learning.services import training_run_execute, training_run_request
from chatbot.registry.models import ModelVersion
from chatbot.registry.selectors import model_version_active
from chatbot.replies.faq_index import faq_embed_stale
from chatbot.replies.responders import intent_router_for
from tests.intents.generation.conftest import tiny_model_dir  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

INTENTS = {
    "greeting": ["hi", "hello", "hey there", "good morning", "hello, anyone there?", "hiya", "good evening", "hey"],
    "thanks": ["thanks", "thank you", "cheers", "many thanks", "thanks a lot", "great, thank you", "ta", "bye"],
    "human": [
        "can I talk to a real person",
        "get me an agent",
        "I want a human",
        "connect me to support staff",
        "transfer me to an operator",
        "speak to a representative",
        "is there a person I can chat with",
        "let me talk to your team",
    ],
}


def consistent(report: dict[str, Any]) -> bool:
    """The decision follows the figures: promoted exactly when the candidate is not worse."""
    better_or_equal = report["candidate_value"] >= report["previous_value"]
    return (report["status"] == "promoted") == better_or_equal


def with_values(report: dict[str, Any]) -> dict[str, Any]:
    metric = report["metric"]
    return {**report, "candidate_value": report["candidate"][metric], "previous_value": report["previous"][metric]}


def test_an_intent_retraining_cycle_promotes_a_classifier_the_site_then_uses(shop_site: Any, settings: Any) -> None:
    settings.CHATBOT_LEARNING_INTENT_EPOCHS = 2
    for name, examples in INTENTS.items():
        action = IntentAction.HANDOFF if name == "human" else IntentAction.SMALLTALK
        Intent.objects.create(site=shop_site, name=name, action=action, examples=examples, response="Hi!")
    assert intent_router_for(site=shop_site) is None

    run = training_run_execute(training_run_request(kinds=["intents"], site=shop_site, dispatch=False).pk)

    report = with_values(run.results["intents (shop)"])
    assert report["golden_examples"] == 6  # 20 % of each intent's 8 examples, rounded
    assert report["active"].startswith("no classifier")
    # Against always guessing one intent, a trained classifier must win.
    assert report["status"] == "promoted", report
    assert report["candidate_value"] > report["previous_value"]
    version = model_version_active(kind="intents", scope="site:shop")
    assert version is not None and version.name == report["version"]
    router = intent_router_for(site=shop_site)
    assert router is not None


def test_a_sentiment_retraining_cycle_is_judged_against_the_lexicon_on_the_golden_set(
    settings: Any, tmp_path: Path, conversation_of: Any
) -> None:
    from chatbot.learning.models import SentimentCorrection

    (sarcastic,) = conversation_of(("customer", "Oh wonderful, lost again. Thanks a lot, mail me at a@b.org"))
    SentimentCorrection.objects.create(message=sarcastic, label="negative")
    rows = [(f"I love this, great service number {i}", "positive") for i in range(20)]
    rows += [(f"This is awful, my parcel {i} never came", "negative") for i in range(20)]
    rows += [(f"My order number is {i} and I am asking about it", "neutral") for i in range(20)]
    data = tmp_path / "labelled.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    settings.CHATBOT_LEARNING_SENTIMENT_DATA = str(data)
    settings.CHATBOT_LEARNING_SENTIMENT_FORMAT = "csv"
    settings.CHATBOT_LEARNING_GOLDEN_SENTIMENT = 6
    settings.CHATBOT_LEARNING_SENTIMENT_EPOCHS = 2

    run = training_run_execute(training_run_request(kinds=["sentiment"], dispatch=False).pk)

    report = with_values(run.results["sentiment"])
    assert report["active"] == "VADER lexicon" and report["golden_examples"] == 6
    # The file's training split (the golden rows come from its other 10 %) and the correction.
    assert report["examples"] == 54 + 1
    assert consistent(report), report
    assert ModelVersion.objects.filter(kind="sentiment", name=report["version"]).exists()


def test_a_dialogue_retraining_cycle_fine_tunes_scores_and_registers_a_version(
    shop_site: Any,
    settings: Any,
    tiny_model_dir: Path,  # noqa: F811
) -> None:
    settings.CHATBOT_DIALOGUE_MODEL = str(tiny_model_dir)
    settings.CHATBOT_LEARNING_DIALOGUE_MAX_EXAMPLES = 4
    settings.CHATBOT_LEARNING_GOLDEN_DIALOGUE = 2
    settings.CHATBOT_LEARNING_EVAL_MAX_NEW_TOKENS = 8
    for number, (question, answer) in enumerate(
        [
            ("How long does delivery take?", "Delivery takes 2 to 3 business days."),
            ("Can I return an item?", "You can return any item within 30 days."),
            ("Do you ship abroad?", "We ship to every EU country."),
        ]
    ):
        FaqEntry.objects.create(
            site=shop_site, question=question, alternatives=[f"{question} ({number})"], answer=answer
        )
    faq_embed_stale(site=shop_site)

    run = training_run_execute(training_run_request(kinds=["dialogue"], dispatch=False).pk)

    report = with_values(run.results["dialogue"])
    assert report["status"] in {"promoted", "kept"}, report
    assert report["golden_examples"] == 2 and report["examples"] >= 1
    assert report["active"].startswith("base model")
    assert consistent(report) or report["reason"].startswith("worse: invented_entity_rate"), report
    version = ModelVersion.objects.get(kind="dialogue", name=report["version"])
    assert (Path(version.path) / "config.json").is_file()
