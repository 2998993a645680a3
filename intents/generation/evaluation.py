"""Scoring replies to held-out questions against reference answers.

Every question is answered the way production answers it (retrieval, then the generator and the
grounding guard), with the gate told to always answer from the best passage so that every model
is scored on every question. Figures:
- `rougeL`, `embedding_similarity` (MiniLM cosine to the reference): on the reply the customer
  gets; `raw_rougeL`, `raw_embedding_similarity`: on what the model wrote before the guard;
- `grounded_fraction`: replies the model wrote whose facts all appear in the passage and whose
  meaning stays with it (cosine to the passage at least the responder's floor);
- `invented_entity_rate`: share of the model's replies with a link, e-mail, phone, order
  number, other number or placeholder found in no source;
- `guard_changed_rate`: the model's replies the guard changed (sentences dropped, or the FAQ
  answer sent instead);
- `ttft_ms_p50/p99`: from the question to the first text released to the customer;
  `tokens_per_s`: the model's decode speed (median over replies).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from intents.embeddings import Embedder
from intents.generation.data import QA
from intents.generation.grounding import passage_sources, unsupported_facts
from intents.generation.responder import Draft, GeneratingResponder
from intents.retrieval import RetrievalResponder
from intents.types import Turn

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Scored:
    question: str
    reference: str
    reply: str
    raw: str
    sources: tuple[str, ...]
    ttft_ms: float
    total_ms: float
    raw_tokens: int
    generated: bool


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def answer_all(
    rows: Sequence[QA],
    responder: RetrievalResponder | GeneratingResponder,
    *,
    count_tokens: Callable[[str], int] | None = None,
    progress: Progress | None = None,
) -> list[Scored]:
    results = []
    for number, row in enumerate(rows, 1):
        history = [Turn("customer", row.question)]
        started = time.perf_counter()
        first: float | None = None
        draft: Draft | None = None
        if isinstance(responder, GeneratingResponder):
            for piece in responder.draft(history):
                if isinstance(piece, Draft):
                    draft = piece
                elif first is None:
                    first = (time.perf_counter() - started) * 1000
        else:  # retrieval only: the reply is the cited entry's answer, sent whole
            deliberation = responder.deliberate(history)
            draft = Draft(deliberation.answer, "", False, sources=tuple(passage_sources(deliberation.passages)))
        total = (time.perf_counter() - started) * 1000
        if draft is None:
            raise RuntimeError("the responder ended without an answer")
        final, raw, sources = draft.answer, draft.raw_text, draft.sources
        results.append(
            Scored(
                question=row.question,
                reference=row.answer,
                reply=final.text,
                raw=raw,
                sources=sources,
                ttft_ms=first if first is not None else total,
                total_ms=total,
                raw_tokens=count_tokens(raw) if count_tokens and raw else 0,
                generated=bool(raw),
            )
        )
        if progress:
            progress(number, len(rows))
    return results


def metrics(results: Sequence[Scored], embedder: Embedder, *, min_passage_similarity: float) -> dict[str, Any]:
    from rouge_score import rouge_scorer

    if not results:
        raise ValueError("nothing to score")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    generated = [r for r in results if r.generated]

    def rouge(texts: Sequence[str]) -> float:
        values = [scorer.score(r.reference, t)["rougeL"].fmeasure for r, t in zip(results, texts, strict=True)]
        return round(float(np.mean(values)), 4)

    def similarity(texts: Sequence[str]) -> float:
        replies = embedder.encode(list(texts))
        references = embedder.encode([r.reference for r in results])
        return round(float(np.mean(np.sum(replies * references, axis=1))), 4)

    raw_texts = [r.raw or r.reply for r in results]
    invented = [bool(unsupported_facts(r.raw, r.sources)) for r in generated]
    grounded = []
    if generated:
        raw_vectors = embedder.encode([r.raw for r in generated])
        for r, vector, has_invented in zip(generated, raw_vectors, invented, strict=True):
            passage_similarity = float(np.max(embedder.encode(list(r.sources)) @ vector)) if r.sources else 0.0
            grounded.append(not has_invented and passage_similarity >= min_passage_similarity)
    speeds = [
        r.raw_tokens / ((r.total_ms - r.ttft_ms) / 1000)
        for r in generated
        if r.raw_tokens > 1 and r.total_ms > r.ttft_ms
    ]
    return {
        "questions": len(results),
        "rougeL": rouge([r.reply for r in results]),
        "embedding_similarity": similarity([r.reply for r in results]),
        "raw_rougeL": rouge(raw_texts),
        "raw_embedding_similarity": similarity(raw_texts),
        # Retrieval-only replies are the passage itself: grounded by construction.
        "grounded_fraction": round(float(np.mean(grounded)), 4) if generated else 1.0,
        "invented_entity_rate": round(float(np.mean(invented)), 4) if generated else 0.0,
        "guard_changed_rate": round(sum(1 for r in generated if r.reply != r.raw.strip()) / len(generated), 4)
        if generated
        else 0.0,
        "ttft_ms_p50": _percentile([r.ttft_ms for r in results], 50),
        "ttft_ms_p99": _percentile([r.ttft_ms for r in results], 99),
        "tokens_per_s": round(float(np.median(speeds)), 1) if speeds else None,
    }
