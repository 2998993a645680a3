"""Tuning a site's answer gate on labelled questions (used by `gate_tune` and `demo_setup`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.replies.faq_index import (
    faq_index_get,
    site_embedder,
    site_encoder_name,
    site_gate_policy,
    site_language,
)
from chatbot.replies.loading import off_topic_vectors
from chatbot.sites.models import Site
from intents.gate import Candidate, GatePolicy
from intents.gate_tuning import LabelledQuestion, cross_validated, evaluate_policy, tune_policy
from intents.hybrid import HybridIndex, Reranker, off_topic_corpus
from intents.languages import normalise_language
from intents.retrieval import Retriever


class LabelledQuestionsError(ValueError):
    pass


def labelled_questions_read(path: Path) -> list[tuple[str, str | None]]:
    """(text, FAQ question or None for off-topic) from {"in_scope": [{"text", "question"}], "out_of_scope": [...]}.
    A question may name more than one entry, `|` between them, where each one's answer carries the
    fact asked for ("how much is UK express?": the shipping costs and the express entry)."""
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


def gate_policy_tune(
    *, site: Site, labelled: list[tuple[str, str | None]], apply: bool, language: str | None = None
) -> dict[str, Any]:
    """Tune the site's answer threshold and clarify margin (and fit its reranker) for `language`
    (default: the site's); report the current and tuned figures."""
    language = site_language(site, language)
    ids = {
        question: pk
        for question, pk, entry_language in FaqEntry.objects.filter(site=site, is_active=True).values_list(
            "question", "id", "language"
        )
        if normalise_language(entry_language) == language
    }
    named = [question.split("|") if question is not None else [] for _, question in labelled]
    unknown = sorted({q for questions in named for q in questions if q not in ids})
    if unknown:
        raise LabelledQuestionsError(
            f"{len(unknown)} labelled question(s) name no active FAQ entry, e.g. {unknown[0]!r}"
        )
    answers = [[ids[q] for q in questions] for questions in named]  # the entries that answer each, first the label's
    index: Retriever = faq_index_get(site=site, language=language)
    embedder = site_embedder(site, language)
    vectors = embedder.encode([index.search_text(text) for text, _ in labelled])
    reranker: Reranker | None = None
    if isinstance(index, HybridIndex):
        # The site's own reranker, fit on its labelled questions (and the generic off-topic corpus as
        # further negatives) before the thresholds are tuned on its scores. (Tuning them on k-fold
        # scores instead, which the reranker did not see, chose a higher threshold that handed off
        # more right answers and answered no fewer wrongly on the English development split.)
        generic_vectors = off_topic_vectors(embedder, language)
        encoder = site_encoder_name(site, language, embedder)
        reranker = _reranker_fit(index, labelled, vectors, answers, language, generic_vectors, encoder)
        index = dataclasses.replace(index, reranker=reranker)
    questions = [
        LabelledQuestion(
            text,
            tuple(Candidate(m.document.id, m.document.question, m.score) for m in index.retrieve(text, vector, k=3)),
            entries[0] if entries else None,
            index.off_topic_probability(vector),
            frozenset(entries[1:]),
        )
        for (text, _), entries, vector in zip(labelled, answers, vectors, strict=True)
    ]
    base = GatePolicy(max_failed_turns=settings.CHATBOT_MAX_FAILED_TURNS)
    current = site_gate_policy(site, language)
    tuned = tune_policy(questions, base)
    report = {
        "site": site.key,
        "language": language,
        "questions": len(questions),
        "current": {**_thresholds(current), **evaluate_policy(questions, current)},
        "tuned": {**_thresholds(tuned), **evaluate_policy(questions, tuned)},
        "tuned_out_of_sample_2fold": cross_validated(questions, base),
        "applied": apply,
    }
    if reranker is not None:
        report["reranker"] = reranker.to_json()
    if apply:
        _gate_save(site, language, tuned, reranker)
    return report


def _gate_save(site: Site, language: str, tuned: GatePolicy, reranker: Reranker | None) -> None:
    """The tuned gate on the site: its own fields for its default language, `language_gates` for others."""
    if language == site_language(site, None):
        site.answer_threshold, site.clarify_margin = tuned.answer_threshold, tuned.clarify_margin
        site.retrieval_reranker = reranker.to_json() if reranker is not None else site.retrieval_reranker
        site.save(update_fields=["answer_threshold", "clarify_margin", "retrieval_reranker"])
        return
    gate: dict[str, Any] = {**_thresholds(tuned)}
    if reranker is not None:
        gate["reranker"] = reranker.to_json()
    site.language_gates = {**(site.language_gates or {}), language: gate}
    site.save(update_fields=["language_gates"])


def _reranker_fit(
    index: HybridIndex,
    labelled: list[tuple[str, str | None]],
    vectors: np.ndarray,
    answers: list[list[int]],
    language: str,
    generic_vectors: np.ndarray,
    encoder: str,
) -> Reranker:
    generic = off_topic_corpus(language)
    texts = [text for text, _ in labelled] + generic
    features, labels = index.training_rows(
        texts, np.vstack([vectors, generic_vectors]), [set(entries) for entries in answers] + [set()] * len(generic)
    )
    return Reranker.fit(features, labels, encoder=encoder)


def _thresholds(policy: GatePolicy) -> dict[str, float]:
    return {"answer_threshold": policy.answer_threshold, "clarify_margin": policy.clarify_margin}
