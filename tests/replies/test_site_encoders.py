import json
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatbot.knowledge.models import FaqEntry
from chatbot.replies import loading
from chatbot.replies.faq_index import faq_embed_stale, faq_index_get, site_embedder, site_encoder_name
from chatbot.replies.loading import embedder_get
from chatbot.sites.models import Site
from intents.hybrid import DEFAULT_RERANKER, HybridIndex, Reranker

pytestmark = [pytest.mark.django_db]

ENTRIES = [
    (
        "How long does delivery take?",
        ["when will my parcel turn up", "how many days until the box arrives", "arrival time of my stuff"],
        "Standard delivery takes 2-3 business days.",
    ),
    (
        "Can I return an item?",
        ["send something back", "I don't want the lamp any more", "take back a purchase"],
        "You can return unused items within 30 days.",
    ),
    (
        "What payment methods do you accept?",
        ["can I use a card", "is Klarna ok", "ways to settle the bill"],
        "We accept Visa, Mastercard, PayPal and Klarna.",
    ),
]
QUICK = ["--epochs", "2", "--batch-size", "3"]


@pytest.fixture
def shop(settings: Any, tmp_path: Path) -> Site:
    settings.CHATBOT_MODEL_DIR = tmp_path / "models"
    site = Site.objects.create(key="shop", name="Shop", allowed_origins=["https://shop.example.com"])
    for question, alternatives, answer in ENTRIES:
        FaqEntry.objects.create(site=site, question=question, alternatives=alternatives, answer=answer)
    faq_embed_stale(site=site)
    site.refresh_from_db()
    return site


def best_match(site: Site, text: str) -> str:
    """The question of the entry the site's index ranks first for `text`, searched as a reply searches."""
    vector = site_embedder(site).encode([text])[0]
    return faq_index_get(site=site).retrieve(text, vector, k=1)[0].document.question


def index_reranker(site: Site) -> Reranker:
    index = faq_index_get(site=site)
    assert isinstance(index, HybridIndex)
    return index.reranker


def finetune(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("encoder_finetune", "--site", "shop", *QUICK, "--json", *args, stdout=out, stderr=StringIO())
    return dict(json.loads(out.getvalue()))


@pytest.mark.slow
def test_a_site_fine_tunes_its_own_encoder_and_answers_with_it(shop: Site, settings: Any) -> None:
    report = finetune()
    shop.refresh_from_db()
    folder = Path(report["folder"])
    assert report["trained"] is True and report["training"]["pairs"] == 9
    assert report["embedded"] == 3  # every entry embedded again, by the new encoder
    assert shop.embedding_models == {"en": str(folder.relative_to(settings.CHATBOT_MODEL_DIR))}
    encoder = site_embedder(shop)
    assert encoder.model_name == str(folder) != embedder_get().model_name
    assert set(FaqEntry.objects.filter(site=shop).values_list("embedding_model", flat=True)) == {str(folder)}
    # The index and the responder search with the site's encoder.
    assert faq_index_get(site=shop) is faq_index_get(site=shop)
    assert best_match(shop, "how many days until the box arrives") == "How long does delivery take?"

    again = finetune()  # nothing changed: the same folder, no training, nothing to embed
    assert (again["trained"], again["folder"], again["embedded"]) == (False, report["folder"], 0)

    FaqEntry.objects.filter(site=shop, question="Can I return an item?").update(
        alternatives=["send something back", "return window"]
    )
    changed = finetune()
    assert changed["trained"] is True and changed["folder"] != report["folder"]


@pytest.mark.slow
def test_tune_refits_the_gate_for_the_new_encoder_and_reset_serves_the_default_again(
    shop: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    labelled = tmp_path / "questions.json"
    labelled.write_text(
        json.dumps(
            {
                "in_scope": [
                    {"text": "where is my delivery, how long?", "question": "How long does delivery take?"},
                    {"text": "can I hand the chair back", "question": "Can I return an item?"},
                    {"text": "do you take Mastercard", "question": "What payment methods do you accept?"},
                ],
                "out_of_scope": ["what is the capital of France", "tell me a joke"],
            }
        )
    )
    shop.retrieval_reranker = None
    shop.save(update_fields=["retrieval_reranker"])
    report = finetune("--tune", str(labelled))
    shop.refresh_from_db()
    assert shop.retrieval_reranker and report["gate"]["tuned"]["answer_threshold"] == shop.answer_threshold
    tuned = Reranker.from_json(shop.retrieval_reranker)
    assert tuned.encoder == "all-MiniLM-L6-v2 (fine-tuned)" and index_reranker(shop) == tuned

    # Trained again on a changed FAQ without --tune: still the site's fine-tuned MiniLM, so its weights
    # still serve (they fit it far better than the base model's).
    FaqEntry.objects.filter(site=shop, question="Can I return an item?").update(alternatives=["return window"])
    assert finetune()["trained"] is True
    shop.refresh_from_db()
    assert index_reranker(shop) == tuned
    # It is a fine-tuned MiniLM (its folder says so) whatever the language's encoder is set to now.
    settings.CHATBOT_EMBEDDING_MODEL = "/srv/models/another-encoder"
    assert site_encoder_name(shop, "en", site_embedder(shop)) == "all-MiniLM-L6-v2 (fine-tuned)"
    settings.CHATBOT_EMBEDDING_MODEL = ""

    out = StringIO()
    with caplog.at_level(logging.WARNING, logger="chatbot.replies.faq_index"):
        call_command("encoder_finetune", "--site", "shop", "--reset", "--json", stdout=out, stderr=StringIO())
        shop.refresh_from_db()
        assert shop.embedding_models == {} and json.loads(out.getvalue())["embedded"] == 3
        assert site_embedder(shop) is embedder_get()
        # The base model's scores are not the fine-tuned copy's: the shipped weights, until gate_tune runs.
        assert index_reranker(shop) == DEFAULT_RERANKER
    assert "fit over all-MiniLM-L6-v2 (fine-tuned), not all-MiniLM-L6-v2" in caplog.text
    assert set(FaqEntry.objects.filter(site=shop).values_list("embedding_model", flat=True)) == {
        embedder_get().model_name
    }


def test_a_site_whose_encoder_folder_is_gone_keeps_answering_with_the_default_and_says_so_once(
    shop: Site, caplog: pytest.LogCaptureFixture
) -> None:
    shop.embedding_models = {"en": "site-encoders/shop/en/gone"}
    shop.save(update_fields=["embedding_models"])
    with caplog.at_level(logging.ERROR, logger="chatbot.replies.faq_index"):
        assert site_embedder(shop) is embedder_get()
        assert site_embedder(shop) is embedder_get()
    errors = [r for r in caplog.records if "cannot be loaded" in r.getMessage()]
    assert len(errors) == 1 and "site-encoders/shop/en/gone" in errors[0].getMessage()
    assert best_match(shop, "What payment methods do you accept?") == "What payment methods do you accept?"


def test_the_command_refuses_an_unknown_site_and_bad_settings(shop: Site) -> None:
    with pytest.raises(CommandError, match="No site"):
        call_command("encoder_finetune", "--site", "nope")
    with pytest.raises(CommandError, match="--epochs must be at least 1"):
        call_command("encoder_finetune", "--site", "shop", "--epochs", "0")
    with pytest.raises(CommandError, match="expected"):
        call_command("encoder_finetune", "--site", "shop", "--tune", "/nonexistent.json")
    Site.objects.create(key="bare", name="Bare", allowed_origins=[])
    with pytest.raises(CommandError, match="two entries"):
        call_command("encoder_finetune", "--site", "bare")
    # MiniLM reads no Chinese: without a Chinese encoder to start from there is nothing to train.
    with pytest.raises(CommandError, match="CHATBOT_EMBEDDING_MODEL_ZH"):
        call_command("encoder_finetune", "--site", "shop", "--language", "zh-hans")
    shop.refresh_from_db()
    assert shop.embedding_models == {}


def test_a_process_keeps_only_as_many_site_encoders_loaded_as_configured(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []

    def load(location: str, *, device: str) -> object:
        loads.append(location)
        return object()

    monkeypatch.setattr(loading.SentenceTransformerEmbedder, "load", load)
    monkeypatch.setattr(loading, "_site_encoders", type(loading._site_encoders)())
    settings.CHATBOT_SITE_ENCODERS_KEPT = 2
    first, second, third = (tmp_path / name for name in ("a", "b", "c"))
    for folder in (first, second, third):
        folder.mkdir()

    kept = loading.site_encoder_at(first)
    assert loading.site_encoder_at(first) is kept  # loaded once
    loading.site_encoder_at(second)
    loading.site_encoder_at(third)  # the least recently used (first) goes
    loading.site_encoder_at(second)
    loading.site_encoder_at(first)  # loaded again

    assert loads == [str(first), str(second), str(third), str(first)]
