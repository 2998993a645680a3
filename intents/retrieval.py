"""FAQ retrieval: an exact cosine index over every phrasing of every entry, and the responder
that answers from it through the answer gate (intents and generation plug in behind the same
`Responder` interface)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from intents.classifier import IntentClassifier
from intents.embeddings import Embedder, Vectors
from intents.gate import (
    ASKED_FOR_HUMAN_REASON,
    INSTRUCTS_THE_BOT_REASON,
    Candidate,
    Decision,
    GatePolicy,
    decide,
    follow_up_query,
    retrieval_query,
)
from intents.languages import ENGLISH
from intents.places import place_names
from intents.streaming import split_for_streaming
from intents.texts import text
from intents.types import Answer, FaqDocument, Source, Turn
from intents.words import content_stems

# The gate's fixed replies in English; `intents.texts` has them in every language the bot speaks.
NOT_SURE_TEXT = text("not_sure")
CLARIFY_TEXT = text("clarify")
ASKED_FOR_HUMAN_TEXT = text("asked_for_human")
ESCALATED_TEXT = text("escalated")
INSTRUCTIONS_REFUSED_TEXT = text("instructions_refused")


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

    def retrieve(self, query: str, vector: Vectors, k: int = 3) -> list[Match]:
        return self.search(vector, k=k)

    def search_text(self, query: str) -> str:
        return query

    def off_topic_probability(self, vector: Vectors) -> float | None:
        return None


class Retriever(Protocol):
    """Finds the FAQ entries that may answer a question: `FaqIndex` (cosine over phrasings) or
    `intents.hybrid.HybridIndex` (dense, lexical and coverage evidence fused by a reranker)."""

    def __len__(self) -> int: ...

    def retrieve(self, query: str, vector: Vectors, k: int = 3) -> list[Match]:
        """The `k` best entries for the query (its text and its normalised vector), best first."""
        ...

    def search_text(self, query: str) -> str:
        """The text to embed for `query` (what the index knows about its words, e.g. a city's country)."""
        ...

    def off_topic_probability(self, vector: Vectors) -> float | None:
        """How sure the index is that the question is about nothing the site answers (None: no opinion)."""
        ...


@dataclass(frozen=True)
class IntentRoute:
    """What the site does with an intent: its action (answer, handoff, smalltalk, custom) and,
    for smalltalk and custom, the reply."""

    action: str
    response: str = ""


@dataclass
class IntentRouter:
    """A site's trained intent classifier and what to do with each intent."""

    classifier: IntentClassifier
    routes: dict[str, IntentRoute]


@dataclass(frozen=True)
class Deliberation:
    """What the gate decided and the retrieval-only reply to it; `passages` are the FAQ entries
    an answer cites (empty unless the decision is to answer from the FAQ)."""

    decision: Decision
    answer: Answer
    passages: tuple[FaqDocument, ...] = ()


@dataclass
class RetrievalResponder:
    """Answers from the FAQ through the gate: the best entry when it clearly fits, a choice
    between two that fit about equally, or an honest "not sure" and a person instead of a guess."""

    embedder: Embedder
    index: Retriever
    policy: GatePolicy = field(default_factory=GatePolicy)
    model_version: str = "retrieval-v2"
    intents: IntentRouter | None = None
    # The reply to a question from the cited entry (default: its answer as written); the product
    # passes `intents.generation.verifier.faq_answer_for`, which fits its "Yes"/"No" to the question.
    answer_text: Callable[[str, FaqDocument], str] | None = None

    def deliberate(self, history: Sequence[Turn]) -> Deliberation:
        """Retrieval, the intent model when the site has one, and the gate's decision."""
        question = next((t.text.strip() for t in reversed(history) if t.sender == "customer"), "")
        query = retrieval_query(history)
        merged = follow_up_query(history)
        started = time.perf_counter()
        vector = None
        matches: list[Match] = []
        if query:
            queries = [query] if merged is None else [query, merged]
            vectors = self.embedder.encode([self.index.search_text(text) for text in queries])
            vector, matches = vectors[0], self.index.retrieve(query, vectors[0], k=3)
            if merged is not None:
                # A short follow-up: read with the turn before it when that finds a better match.
                merged_matches = self.index.retrieve(merged, vectors[1], k=3)
                query, vector, matches = _follow_up_reading(
                    question, (query, vectors[0], matches), (merged, vectors[1], merged_matches)
                )
        off_topic = self.index.off_topic_probability(vector) if vector is not None else None
        retrieval_ms = (time.perf_counter() - started) * 1000
        candidates = [Candidate(m.document.id, m.document.question, round(m.score, 4)) for m in matches]
        prediction = self.intents.classifier.predict([question])[0] if self.intents and question else None
        from_intents = prediction.oos_probability if prediction else None
        oos_probabilities = [p for p in (off_topic, from_intents) if p is not None]
        route = None
        if prediction is not None and not prediction.out_of_scope and self.intents is not None:
            route = self.intents.routes.get(prediction.intent, IntentRoute("answer"))
        decision = decide(
            question=question,
            candidates=candidates,
            history=history,
            policy=self.policy,
            oos_probability=max(oos_probabilities) if oos_probabilities else None,
            intent=(prediction.intent, prediction.confidence, route.action) if prediction and route else None,
        )
        if decision.intent_reply and prediction is not None and route is not None:
            answer = Answer(text=route.response, intent=prediction.intent, confidence=0.0)
        else:
            answers = {m.document.id: m.document.answer for m in matches}
            if self.answer_text is not None and decision.action == "answer" and decision.candidates:
                document = next(m.document for m in matches if m.document.id == decision.candidates[0].id)
                # The customer's own last message decides yes or no, not the previous one it was read with.
                answers[document.id] = self.answer_text(question, document)
            answer = self._reply(decision, answers, language=_customer_language(history))
        answer = replace(
            answer,
            confidence=candidates[0].score if candidates else 0.0,
            model_version=f"{self.model_version}:{self.embedder.model_name}",
            timings_ms={"retrieval": round(retrieval_ms, 2)},
            decision=decision.action,
            reason=decision.reason,
        )
        from_faq = decision.action == "answer" and not decision.intent_reply
        cited = {c.id for c in decision.candidates} if from_faq else set()
        passages = tuple(m.document for m in matches if m.document.id in cited)
        return Deliberation(decision=decision, answer=answer, passages=passages)

    def answer(self, history: Sequence[Turn]) -> Iterator[str | Answer]:
        answer = self.deliberate(history).answer
        yield from split_for_streaming(answer.text)
        yield answer

    @staticmethod
    def _reply(decision: Decision, answers: dict[int, str], language: str = ENGLISH) -> Answer:
        """The reply to the gate's decision; its fixed texts (clarify, handoff) in `language`."""
        cited = tuple(Source(c.id, c.question, c.score) for c in decision.candidates)
        if decision.action == "answer":
            return Answer(text=answers[cited[0].id], intent="faq", confidence=0.0, sources=cited)
        if decision.action == "clarify":
            return Answer(text=text("clarify", language), intent="faq", confidence=0.0, options=cited)
        if decision.reason.startswith(INSTRUCTS_THE_BOT_REASON) and not decision.escalate:
            # Orders to the bot ("ignore your instructions") get what it is for, and no offer of a person.
            return Answer(text=text("instructions_refused", language), intent="out_of_scope", confidence=0.0)
        # The customer asked for a person, in words the gate recognises or as a handoff intent.
        asked = decision.reason.startswith((ASKED_FOR_HUMAN_REASON, "intent "))
        if asked:
            reply = text("asked_for_human", language)
        elif decision.escalate:
            reply = text("escalated", language)
        else:
            reply = text("not_sure", language)
        return Answer(
            text=reply,
            intent="human_request" if asked else "out_of_scope",
            confidence=0.0,
            handoff=True,
            escalate=decision.escalate,
        )


Reading = tuple[str, Vectors, list[Match]]


def _follow_up_reading(turn: str, alone: Reading, merged: Reading) -> Reading:
    """A short follow-up read alone or with the turn before it, whichever finds the better match. Read
    with the turn before, the best match may be that turn's entry and none of the follow-up's own
    words ("and the linen sheets?" after a question about the wool throw): then the next match that
    has every one of them, if there is one, comes first."""
    query, vector, matches = max((alone, merged), key=lambda reading: reading[2][0].score if reading[2] else -1.0)
    asked = content_stems(turn)
    if not asked or query != merged[0] or not matches or asked & _words_of(matches[0].document, turn):
        return query, vector, matches
    covering = [m for m in matches[1:] if asked <= _words_of(m.document, turn)]
    if not covering:
        return query, vector, matches
    return query, vector, covering


def _words_of(document: FaqDocument, turn: str) -> set[str]:
    """The entry's words, and each place `turn` names whose country or region the entry names ("and in
    Scotland?" is about an entry on the UK)."""
    words = content_stems(document.text, all_words=True)
    for name, stands_for in place_names().hints(turn):
        if content_stems(" ".join(stands_for), all_words=True) & words:
            words |= content_stems(name, all_words=True)
    return words


def _customer_language(history: Sequence[Turn]) -> str:
    """The language of the customer's last message (stored with it), English when not known."""
    return next((t.language for t in reversed(history) if t.sender == "customer" and t.language), ENGLISH)
