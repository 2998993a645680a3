"""Plain values that cross the boundary between the ML code and the application."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Speaker = Literal["customer", "bot", "operator", "system"]


@dataclass(frozen=True)
class Turn:
    """One message of the conversation, oldest first in a history."""

    sender: Speaker
    text: str
    unanswered: bool = False  # a bot turn that could not answer (the gate counts these)
    language: str = ""  # the message's language (`intents.languages`), "" when not known


@dataclass(frozen=True)
class FaqDocument:
    """An FAQ entry as the retriever sees it."""

    id: int
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """Every way the entry's question is written; each is embedded and searched."""
        return (self.question, *self.alternatives)

    @property
    def text(self) -> str:
        """The question, the other phrasings and the answer as one text: where the entry's words are."""
        return f"{self.question} {' '.join(self.alternatives)} {self.answer}"


@dataclass(frozen=True)
class Source:
    """An FAQ entry an answer rests on, with how well it matched the question."""

    id: int
    question: str
    score: float


@dataclass(frozen=True)
class Answer:
    """The final result of a responder, after any streamed tokens."""

    text: str
    intent: str | None
    confidence: float
    sources: tuple[Source, ...] = ()
    handoff: bool = False
    model_version: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    decision: str = "answer"  # the gate's action: answer, clarify or handoff
    reason: str = ""  # why, e.g. "best FAQ match 0.31 < 0.45"
    options: tuple[Source, ...] = ()  # clarify: the entries the customer chooses between
    escalate: bool = False  # handoff: hand the conversation to the team now


class Responder(Protocol):
    """Answers the last customer turn of a history.

    Yields the reply's text as it is produced (`str` deltas, possibly none), then exactly one
    `Answer` whose `text` is the complete reply.
    """

    def answer(self, history: Sequence[Turn]) -> Iterator[str | Answer]: ...
