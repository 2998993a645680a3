"""Tuning a site's answer gate on labelled questions (used by `gate_tune` and `demo_setup`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from chatbot.knowledge.answering import embedder_get, faq_index_get
from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site
from intents.datasets import Example, IntentDataset, stratified_split
from intents.gate import Candidate, GatePolicy
from intents.gate_tuning import LabelledQuestion, cross_validated, evaluate_policy, tune_policy

FAQ_INTENT = "faq"


def site_intent_dataset(*, site: Site) -> IntentDataset:
    """Training data for a site's classifier: its active intents' examples, and every phrasing of
    its active FAQ entries as one `faq` intent (questions the FAQ answers)."""
    from chatbot.intents.models import Intent

    examples = [
        Example(str(text).strip(), intent.name)
        for intent in Intent.objects.filter(site=site, is_active=True)
        for text in intent.examples
        if str(text).strip()
    ]
    for entry in FaqEntry.objects.filter(site=site, is_active=True):
        examples.extend(Example(text, FAQ_INTENT) for text in entry.phrasings)
    train, validation = stratified_split(list(dict.fromkeys(examples)), 0.1, seed=13)
    return IntentDataset(tuple(train), tuple(validation), source=f"site:{site.key}")


class LabelledQuestionsError(ValueError):
    pass


def labelled_questions_read(path: Path) -> list[tuple[str, str | None]]:
    """(text, FAQ question or None for off-topic) from {"in_scope": [{"text", "question"}], "out_of_scope": [...]}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pairs: list[tuple[str, str | None]] = [(str(q["text"]), str(q["question"])) for q in data["in_scope"]]
        pairs += [(str(text), None) for text in data.get("out_of_scope", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabelledQuestionsError(
            f"{path}: expected {{'in_scope': [{{'text', 'question'}}], 'out_of_scope': [...]}} ({exc})"
        ) from exc
    if not pairs:
        raise LabelledQuestionsError(f"{path}: no questions")
    return pairs


def gate_policy_tune(*, site: Site, labelled: list[tuple[str, str | None]], apply: bool) -> dict[str, Any]:
    """Tune the site's answer threshold and clarify margin; report the current and tuned figures."""
    ids = dict(FaqEntry.objects.filter(site=site, is_active=True).values_list("question", "id"))
    unknown = sorted({q for _, q in labelled if q is not None and q not in ids})
    if unknown:
        raise LabelledQuestionsError(
            f"{len(unknown)} labelled question(s) name no active FAQ entry, e.g. {unknown[0]!r}"
        )
    index, embedder = faq_index_get(site=site), embedder_get()
    vectors = embedder.encode([text for text, _ in labelled])
    questions = [
        LabelledQuestion(
            text,
            tuple(Candidate(m.document.id, m.document.question, m.score) for m in index.search(vector, k=3)),
            ids[expected] if expected is not None else None,
        )
        for (text, expected), vector in zip(labelled, vectors, strict=True)
    ]
    base = GatePolicy(max_failed_turns=settings.CHATBOT_MAX_FAILED_TURNS)
    current = GatePolicy(answer_threshold=site.answer_threshold, clarify_margin=site.clarify_margin)
    tuned = tune_policy(questions, base)
    report = {
        "site": site.key,
        "questions": len(questions),
        "current": {**_thresholds(current), **evaluate_policy(questions, current)},
        "tuned": {**_thresholds(tuned), **evaluate_policy(questions, tuned)},
        "tuned_out_of_sample_2fold": cross_validated(questions, base),
        "applied": apply,
    }
    if apply:
        site.answer_threshold, site.clarify_margin = tuned.answer_threshold, tuned.clarify_margin
        site.save(update_fields=["answer_threshold", "clarify_margin"])
    return report


def _thresholds(policy: GatePolicy) -> dict[str, float]:
    return {"answer_threshold": policy.answer_threshold, "clarify_margin": policy.clarify_margin}
