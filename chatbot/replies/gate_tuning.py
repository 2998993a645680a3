"""Tuning a site's answer gate on labelled questions (used by `gate_tune` and `demo_setup`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.replies.faq_index import faq_index_get
from chatbot.replies.loading import embedder_get, off_topic_vectors
from chatbot.sites.models import Site
from intents.gate import Candidate, GatePolicy
from intents.gate_tuning import LabelledQuestion, cross_validated, evaluate_policy, tune_policy
from intents.hybrid import HybridIndex, Reranker, off_topic_corpus
from intents.retrieval import Retriever


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
    index: Retriever = faq_index_get(site=site)
    embedder = embedder_get()
    vectors = embedder.encode([text for text, _ in labelled])
    reranker: Reranker | None = None
    if isinstance(index, HybridIndex):
        # The site's own reranker, fit on its labelled questions (and the generic off-topic corpus as
        # further negatives) before the thresholds are tuned on its scores.
        reranker = _reranker_fit(index, labelled, vectors, ids, off_topic_vectors(embedder))
        index = dataclasses.replace(index, reranker=reranker)
    questions = [
        LabelledQuestion(
            text,
            tuple(Candidate(m.document.id, m.document.question, m.score) for m in index.retrieve(text, vector, k=3)),
            ids[expected] if expected is not None else None,
            index.off_topic_probability(vector),
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
    if reranker is not None:
        report["reranker"] = reranker.to_json()
    if apply:
        site.answer_threshold, site.clarify_margin = tuned.answer_threshold, tuned.clarify_margin
        site.retrieval_reranker = reranker.to_json() if reranker is not None else site.retrieval_reranker
        site.save(update_fields=["answer_threshold", "clarify_margin", "retrieval_reranker"])
    return report


def _reranker_fit(
    index: HybridIndex,
    labelled: list[tuple[str, str | None]],
    vectors: np.ndarray,
    ids: dict[str, int],
    generic_vectors: np.ndarray,
) -> Reranker:
    generic = off_topic_corpus()
    texts = [text for text, _ in labelled] + generic
    answers = [{ids[expected]} if expected is not None else set() for _, expected in labelled]
    features, labels = index.training_rows(
        texts, np.vstack([vectors, generic_vectors]), answers + [set()] * len(generic)
    )
    return Reranker.fit(features, labels)


def _thresholds(policy: GatePolicy) -> dict[str, float]:
    return {"answer_threshold": policy.answer_threshold, "clarify_margin": policy.clarify_margin}
