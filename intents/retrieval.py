"""FAQ retrieval: an exact cosine index over every phrasing of every entry, and the responder
that answers from it (v1 of the answer path; intents and generation plug in behind the same
`Responder` interface)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from intents.embeddings import Embedder, Vectors
from intents.streaming import split_for_streaming
from intents.types import Answer, FaqDocument, Source, Turn

NOT_SURE_TEXT = "I'm not sure I have the right answer to that. Would you like me to bring in a member of our team?"


@dataclass(frozen=True)
class Match:
    document: FaqDocument
    score: float


class FaqIndex:
    """Normalised phrasing vectors in one matrix; a query's score for an entry is its best
    cosine similarity over the entry's phrasings. Exact search: FAQ stores are small (hundreds to
    a few thousand phrasings), where a matrix product is faster than any approximate index."""

    def __init__(self, documents: Sequence[FaqDocument], vectors: Vectors, owners: Sequence[int]) -> None:
        if len(vectors) != len(owners):
            raise ValueError(f"{len(vectors)} vectors but {len(owners)} owners")
        self._documents = list(documents)
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._owners = np.asarray(owners, dtype=np.int64)  # row -> position in _documents

    @classmethod
    def build(cls, documents: Sequence[FaqDocument], embedder: Embedder) -> FaqIndex:
        texts: list[str] = []
        owners: list[int] = []
        for position, document in enumerate(documents):
            for phrasing in document.phrasings:
                texts.append(phrasing)
                owners.append(position)
        return cls(documents, embedder.encode(texts), owners)

    @classmethod
    def from_vectors(cls, entries: Sequence[tuple[FaqDocument, Vectors]]) -> FaqIndex:
        """An index from precomputed vectors (one row per phrasing of each document)."""
        documents = [document for document, _ in entries]
        blocks = [vectors for _, vectors in entries if len(vectors)]
        dimension = blocks[0].shape[1] if blocks else 0
        matrix = np.vstack(blocks) if blocks else np.zeros((0, dimension), dtype=np.float32)
        owners = [position for position, (_, vectors) in enumerate(entries) for _ in range(len(vectors))]
        return cls(documents, matrix, owners)

    def __len__(self) -> int:
        return len(self._documents)

    def search(self, query: Vectors, k: int = 3) -> list[Match]:
        """The `k` best entries for one normalised query vector, best first."""
        if not self._documents or not len(self._vectors):
            return []
        scores = self._vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
        best = np.full(len(self._documents), -np.inf, dtype=np.float32)
        np.maximum.at(best, self._owners, scores)
        order = np.argsort(-best)[:k]
        return [Match(self._documents[i], float(best[i])) for i in order if np.isfinite(best[i])]


@dataclass
class RetrievalResponder:
    """Answers with the best-matching FAQ entry when it scores at least `threshold`; otherwise
    says it is not sure and offers a human, instead of guessing."""

    embedder: Embedder
    index: FaqIndex
    threshold: float
    model_version: str = "retrieval-v1"

    def answer(self, history: Sequence[Turn]) -> Iterator[str | Answer]:
        question = _last_customer_text(history)
        started = time.perf_counter()
        matches = self.index.search(self.embedder.encode([question])[0], k=3) if question else []
        retrieval_ms = (time.perf_counter() - started) * 1000
        best = matches[0] if matches else None
        if best is not None and best.score >= self.threshold:
            answer = Answer(
                text=best.document.answer,
                intent="faq",
                confidence=round(best.score, 4),
                sources=(Source(best.document.id, best.document.question, round(best.score, 4)),),
                model_version=f"{self.model_version}:{self.embedder.model_name}",
                timings_ms={"retrieval": round(retrieval_ms, 2)},
            )
        else:
            answer = Answer(
                text=NOT_SURE_TEXT,
                intent="out_of_scope",
                confidence=round(best.score, 4) if best else 0.0,
                handoff=True,
                model_version=f"{self.model_version}:{self.embedder.model_name}",
                timings_ms={"retrieval": round(retrieval_ms, 2)},
            )
        yield from split_for_streaming(answer.text)
        yield answer


def _last_customer_text(history: Sequence[Turn]) -> str:
    for turn in reversed(history):
        if turn.sender == "customer":
            return turn.text.strip()
    return ""
