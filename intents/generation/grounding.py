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

`InstructionShield` keeps the model's instructions (the system message without its FAQ passage)
out of replies, whatever a customer asked ("repeat the text above"): a reply that repeats a run
of their words, or a code-like token of them, plainly or base64-encoded, falls back to the FAQ
answer, and while streaming such a run is held back until it is certain either way.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
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
# Where one sentence of a reply ends and the next begins (also used by the verifier and data).
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
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
    for separator in SENTENCE_END.finditer(text):
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


_WORD = re.compile(r"[^\W_]+")
# A code-like token (an internal reference, a key): 8+ characters of letters, digits, `-` and `_`,
# with a digit or `_` in it, or at least two hyphens. Plain words ("e-mail", "well-known") are not.
_CODE_TOKEN = re.compile(r"(?<![\w-])(?=[\w-]*[\d_]|(?:[^\W_]+-){2})[\w-]{8,}(?![\w-])")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def _base64_texts(text: str) -> Iterator[str]:
    """What base64-looking runs of `text` decode to, when they decode to text."""
    for match in _BASE64.finditer(text):
        chunk = match.group()
        try:
            decoded = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or "\n" in decoded:
            yield decoded


@dataclass(frozen=True)
class InstructionShield:
    """What of the model's instructions a reply may never repeat: a run of `run` consecutive words
    of them that the sources do not also state, and any code-like token of them. A customer can
    ask the model to "repeat the text above"; this is what keeps the answer to the FAQ.

    Words are compared lower-cased, without punctuation, so spacing and case do not hide a copy.
    A paraphrase or a translation is not caught here: a reply made of one drifts from the passage,
    which the responder's similarity check catches."""

    grams: frozenset[tuple[str, ...]]
    prefixes: frozenset[tuple[str, ...]]  # every proper prefix of a gram: a run that may still grow into one
    tokens: tuple[str, ...]  # lower-cased code-like tokens
    run: int = 5

    @classmethod
    def of(cls, instructions: str, sources: Sequence[str] = (), *, run: int = 5) -> InstructionShield:
        words = _words(instructions)
        quoted: set[tuple[str, ...]] = set()
        for source in sources:
            source_words = _words(source)
            quoted.update(tuple(source_words[i : i + run]) for i in range(len(source_words) - run + 1))
        grams = {tuple(words[i : i + run]) for i in range(len(words) - run + 1)} - quoted
        prefixes = {gram[:length] for gram in grams for length in range(1, run)}
        stated = " ".join(sources).lower()
        tokens = {m.group().lower() for m in _CODE_TOKEN.finditer(instructions)}
        return cls(frozenset(grams), frozenset(prefixes), tuple(sorted(t for t in tokens if t not in stated)), run)

    def leaks(self, text: str) -> bool:
        """Whether `text` repeats the instructions, plainly or base64-encoded."""
        return self._repeats(text) or any(self._repeats(decoded) for decoded in _base64_texts(text))

    def _repeats(self, text: str) -> bool:
        lowered = text.lower()
        if any(token in lowered for token in self.tokens):
            return True
        words = _words(text)
        return any(tuple(words[i : i + self.run]) in self.grams for i in range(len(words) - self.run + 1))

    def open_run(self, text: str) -> int:
        """Where the words at the end of `text` that could still grow into a repeat start
        (`len(text)` when none could): a streaming guard holds them back until the next words
        show which it is."""
        words = list(_WORD.finditer(text))
        for length in range(min(self.run - 1, len(words)), 0, -1):
            if tuple(m.group().lower() for m in words[-length:]) in self.prefixes:
                return words[-length].start()
        return len(text)


_MAYBE_FACT = re.compile(r"[\d@{}#]|https?:|www\.|\.[a-z]{2,}", re.IGNORECASE)


@dataclass
class StreamGuard:
    """Releases streamed text word by word, holding back runs of words that may state a fact
    until the run ends and the fact checks out. Unsupported facts are never released; the final
    text comes from `guard_reply` on the whole reply."""

    sources: Sequence[str]
    shield: InstructionShield | None = None  # the instructions the reply must not repeat
    _known: SourceFacts = field(init=False)
    _pending: str = ""  # received, not yet released
    text: str = ""  # everything received
    _released: int = 0  # how much of `text` has been released (or withheld) so far
    withheld: list[Fact] = field(default_factory=list)  # unsupported facts kept from the customer
    repeated_instructions: bool = False  # the reply repeats the instructions: nothing more is released

    @property
    def invented_number(self) -> bool:
        """A number no source states was withheld: the reply will fall back to the FAQ answer."""
        return any(fact.kind == "number" for fact in self.withheld)

    @property
    def sentences(self) -> int:
        """Sentence ends received so far."""
        return len(SENTENCE_END.findall(self.text))

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
        if self.repeated_instructions:
            return ""
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
            if self.shield is not None:
                # Also hold the words that may be the start of a run of the instructions.
                end = self._released + len(cut_text)
                cut_text = cut_text[: max(self.shield.open_run(self.text[:end]), self._released) - self._released]
            ready = cut_text
            self._pending = self._pending[len(cut_text) :]
        if self.shield is not None and self.shield.leaks(self.text):
            self.repeated_instructions = True
            return ""
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
