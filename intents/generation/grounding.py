"""The grounding guard: a generated reply may only state checkable facts its sources state.

Checkable facts are the things a small model gets wrong and a customer acts on: links, e-mail
addresses, phone numbers, order numbers, other numbers (prices, deadlines) and template
placeholders such as `{{Order Number}}`. A fact is supported when it appears in a source
(compared after normalising: case, punctuation inside numbers). A sentence with an unsupported
fact is dropped; when too little of the reply is left, or a number was invented, the reply falls
back to the cited FAQ answer.

`StreamGuard` applies the same rule while tokens stream: text is released word by word, but a
run of words that may hold a fact is held back until it is complete and checked, so an invented
phone number never reaches the widget even for a moment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from intents.types import FaqDocument

Kind = Literal["url", "email", "phone", "order_number", "number", "placeholder"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|shop|store|info|biz|app|dev|us|uk|de|fr|eu)\b(?:/[^\s<>\"')\]]*)?",
    re.IGNORECASE,
)
# Separators never cross a line or a sentence end: "call 555 010 0199. 30 days" is a phone and a number.
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[\d()-]|[^\S\n]|\.(?=\d)){6,}\d(?![\w])")
_ORDER = re.compile(r"#\s?\d{3,}\b|\b[A-Z]{2,5}-\d{3,}\b|\border\s+(?:number\s+|no\.?\s*|#\s*)?\d{4,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PLACEHOLDER = re.compile(r"\{\{[^{}]{1,80}\}\}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_STEP_NUMBER = re.compile(r"\s*\d{1,2}[.)]\s*")
_TRAILING_DOT = re.compile(r"[.,;:!?]+$")
_LIST_MARKER = re.compile(r"[^\S\n]*(\d{1,2})[.)](?:[^\S\n]|$)", re.MULTILINE)


@dataclass(frozen=True)
class Fact:
    kind: Kind
    text: str
    start: int
    end: int


def _normal(kind: Kind, text: str) -> str:
    if kind in ("phone", "order_number", "number"):
        return re.sub(r"\D", "", text)
    return _TRAILING_DOT.sub("", text.strip().lower().removeprefix("https://").removeprefix("http://"))


def extract_facts(text: str) -> list[Fact]:
    """The checkable facts in `text`, without overlaps (an e-mail's domain is not also a link)."""
    found: list[Fact] = []
    taken: list[tuple[int, int]] = []
    patterns: tuple[tuple[Kind, re.Pattern[str]], ...] = (
        ("placeholder", _PLACEHOLDER),
        ("email", _EMAIL),
        ("url", _URL),
        ("order_number", _ORDER),
        ("phone", _PHONE),
        ("number", _NUMBER),
    )
    for kind, pattern in patterns:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < b and a < end for a, b in taken):
                continue
            value = _TRAILING_DOT.sub("", match.group()) if kind == "url" else match.group()
            if kind == "phone" and len(re.sub(r"\D", "", value)) < 7:
                continue
            if kind == "number" and _is_list_marker(text, start):
                continue  # "2. Click on ..." numbers a step; it states nothing
            found.append(Fact(kind, value, start, start + len(value)))
            taken.append((start, start + len(value)))
    return sorted(found, key=lambda fact: fact.start)


def _is_list_marker(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    marker = _LIST_MARKER.match(text, line_start)
    return marker is not None and marker.start(1) == start


@dataclass(frozen=True)
class SourceFacts:
    """What the sources state, normalised for lookups."""

    values: frozenset[tuple[str, str]]
    digits: str  # every digit run of the sources, joined by spaces: a number is supported if found

    @classmethod
    def of(cls, sources: Sequence[str]) -> SourceFacts:
        values = {(fact.kind, _normal(fact.kind, fact.text)) for text in sources for fact in extract_facts(text)}
        digits = " ".join(re.sub(r"\D", "", match.group()) for text in sources for match in _PHONE.finditer(text))
        numbers = " ".join(re.sub(r"\D", "", m.group()) for text in sources for m in _NUMBER.finditer(text))
        return cls(frozenset(values), f" {digits} {numbers} ")

    def supports(self, fact: Fact) -> bool:
        normal = _normal(fact.kind, fact.text)
        if fact.kind in ("phone", "order_number", "number"):
            return bool(normal) and (f" {normal} " in self.digits or (fact.kind, normal) in self.values)
        if fact.kind == "url":
            return any(kind == "url" and (value == normal or value.startswith(normal)) for kind, value in self.values)
        return (fact.kind, normal) in self.values


def passage_sources(passages: Sequence[FaqDocument]) -> list[str]:
    """The texts a reply grounded on these FAQ entries is checked against: question and answer."""
    return [f"{passage.question}\n{passage.answer}" for passage in passages]


def unsupported_facts(text: str, sources: Sequence[str]) -> list[Fact]:
    known = SourceFacts.of(sources)
    return [fact for fact in extract_facts(text) if not known.supports(fact)]


@dataclass(frozen=True)
class GuardResult:
    text: str
    fell_back: bool
    removed: tuple[Fact, ...] = ()

    @property
    def reason(self) -> str:
        if not self.removed:
            return ""
        kinds = sorted({fact.kind for fact in self.removed})
        action = "fell back to the FAQ answer" if self.fell_back else "dropped"
        return f"{action}: unsupported {', '.join(kinds)}"


def _sentence_pieces(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text`, each with the whitespace after it, covering all of it.
    A step number ("2. ") stays with the sentence it numbers."""
    pieces: list[tuple[int, int]] = []
    start = 0
    for separator in _SENTENCE_END.finditer(text):
        if _STEP_NUMBER.fullmatch(text, start, separator.end()):
            continue  # "2." is not a sentence: extend it with the next one
        pieces.append((start, separator.end()))
        start = separator.end()
    if start < len(text):
        pieces.append((start, len(text)))
    return pieces


def guard_reply(reply: str, sources: Sequence[str], fallback: str, *, min_kept: float = 0.5) -> GuardResult:
    """The reply without sentences that state unsupported facts, or `fallback` when an invented
    number would change what the customer is told, or when less than `min_kept` of it is left.
    What is kept keeps its formatting (line breaks, numbered steps)."""
    reply = reply.strip()
    if not reply:
        return GuardResult(fallback, True)
    removed = unsupported_facts(reply, sources)
    if not removed:
        return GuardResult(reply, False)
    kept = "".join(
        reply[a:b] for a, b in _sentence_pieces(reply) if not any(a <= fact.start < b for fact in removed)
    ).strip()
    if any(fact.kind == "number" for fact in removed) or len(kept) < min_kept * len(reply):
        return GuardResult(fallback, True, tuple(removed))
    return GuardResult(kept, False, tuple(removed))


_MAYBE_FACT = re.compile(r"[\d@{}#]|https?:|www\.|\.[a-z]{2,}", re.IGNORECASE)


@dataclass
class StreamGuard:
    """Releases streamed text word by word, holding back runs of words that may state a fact
    until the run ends and the fact checks out. Unsupported facts are never released; the final
    text comes from `guard_reply` on the whole reply."""

    sources: Sequence[str]
    _known: SourceFacts = field(init=False)
    _pending: str = ""  # received, not yet released
    text: str = ""  # everything received
    _released: int = 0  # how much of `text` has been released (or withheld) so far
    withheld: list[Fact] = field(default_factory=list)  # unsupported facts kept from the customer

    @property
    def invented_number(self) -> bool:
        """A number no source states was withheld: the reply will fall back to the FAQ answer."""
        return any(fact.kind == "number" for fact in self.withheld)

    @property
    def sentences(self) -> int:
        """Sentence ends received so far."""
        return len(_SENTENCE_END.findall(self.text))

    def __post_init__(self) -> None:
        self._known = SourceFacts.of(self.sources)

    def feed(self, delta: str) -> str:
        self.text += delta
        self._pending += delta
        return self._release(final=False)

    def finish(self) -> str:
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        # Whole words only (the last one may still grow), and a held run until a word without a
        # possible fact follows it.
        if final:
            ready, self._pending = self._pending, ""
        else:
            cut = max(self._pending.rfind(" "), self._pending.rfind("\n"))
            if cut < 0:
                return ""
            words = re.findall(r"\s*\S+\s*", self._pending[: cut + 1])
            run_start = len(words)  # the trailing run of words that may hold a fact is held
            while run_start > 0 and _MAYBE_FACT.search(words[run_start - 1]):
                run_start -= 1
            cut_text = "".join(words[:run_start])
            # A placeholder can span words ("{{Customer Support Phone Number}}"): hold it from its
            # word with an unclosed "{{" until it closes.
            opened = cut_text.rfind("{{")
            if opened > cut_text.rfind("}}"):
                cut_text = re.sub(r"\S*\Z", "", cut_text[:opened])
            ready = cut_text
            self._pending = self._pending[len(cut_text) :]
        return self._clean(ready)

    def _clean(self, ready: str) -> str:
        """`ready` (the next text to release) without its unsupported facts, read in the context
        of everything received so far (a step number is told apart by its line)."""
        offset = self._released
        self._released += len(ready)
        out = ready
        for fact in sorted(extract_facts(self.text), key=lambda f: -f.start):
            if offset <= fact.start < offset + len(ready) and not self._known.supports(fact):
                self.withheld.append(fact)
                out = out[: fact.start - offset] + out[min(fact.end, offset + len(ready)) - offset :]
        return out
