"""The verifier: a generated sentence reaches the customer only when the cited passage supports it.

A small model words a passage well most of the time, and now and then says its opposite ("Yes, you
can add another cushion" where the passage says items can't be added) or adds a claim the passage
does not make ("the money is returned immediately", "wool blankets are made of cotton"). A customer
acts on both, so each sentence of a generated reply is checked against the passage before it is
shown:

- **facts**: links, e-mail addresses, phone and order numbers and other numbers must be in the
  passage (`grounding.unsupported_facts`);
- **claims**: every content word of the sentence (products, materials, places, payment methods, time
  words such as "immediately", quantifiers such as "only", "all", "free") must be in the passage, by
  its stem; words that carry no claim ("happy to help") are listed in `NO_CLAIM`;
- **polarity**: a word the passage only negates may not be affirmed, and the other way round
  ("can add" against "can't add", "tumble dry" against "don't tumble dry"); and a sentence that
  opens with "yes" or "no" must agree with what the passage says to the customer's question
  (`stance`), which must be clear from the passage;
- **meaning**: the sentence must be close to some sentence of the passage (cosine of sentence
  embeddings), which catches a sentence about something else that happens to reuse its words.

What the customer sees must still answer the question: a reply whose kept sentences do not carry
the passage's key sentence (the one closest to the question) is replaced by the FAQ answer
(`carries_key`). Rules are deliberately strict: a dropped correct sentence costs a little fluency, a
kept wrong one costs a customer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from intents.embeddings import Embedder
from intents.generation.grounding import SENTENCE_END, unsupported_facts
from intents.lexical import ChineseWords, Words
from intents.types import FaqDocument
from intents.words import NEGATIONS, SENTENCE, is_content, sentences, stem, tokens

Stance = Literal["yes", "no"]


# How many content words after a negation it reaches ("we can't add items" negates add and items).
_NEGATION_REACH = 2
_CLAUSE_BREAK = frozenset({"but", "however", "although", "though", "instead", "unless", "except", "so", "because"})
_CLAUSE = re.compile(r"[,;:\u2013\u2014]\s*|\s+-\s+")
_CONDITIONS = frozenset({"if", "unless", "when", "whenever", "once", "provided", "as", "until"})
_YES = frozenset({"yes", "yeah", "yep", "sure", "absolutely", "certainly", "definitely", "of course"})
_NO = frozenset({"no", "nope", "unfortunately", "sadly", "sorry"})
# A yes/no question: one of its clauses opens with an auxiliary ("I ordered yesterday, can I …?").
_YES_NO_QUESTION = re.compile(
    r"(?:^|[,;:.!?]\s*)\s*(?:\W*\w+[,:]\s+)?(?:can|could|do|does|did|is|are|was|were|will|would|should|shall|may|might|must|"
    r"have|has|am|any)\b",
    re.IGNORECASE,
)
# Stems whose affirmation answers "no" to a question about the other (price words against "free").
_PRICED = ("paid", "pay", "charg", "cost", "fee", "price", "extra")
_OPPOSITES: dict[str, tuple[str, ...]] = {**{word: ("free",) for word in _PRICED}, "free": _PRICED}
_FREE_OF = re.compile(r"\b([a-z]+)-free\b")  # "interest-free", "duty-free": without interest, duty
_PRICE = re.compile(r"[€£$]\s?\d|\d\s?(?:eur|gbp|usd)\b", re.IGNORECASE)


def polarities(text: str) -> dict[str, set[bool]]:
    """For each content stem of `text`: True where it is affirmed, False where a negation reaches it."""
    found: dict[str, set[bool]] = {}
    clauses = (clause for sentence in SENTENCE.findall(text) for clause in _CLAUSE.split(sentence))
    for clause in clauses:
        lowered = clause.lower()
        words = tokens(_FREE_OF.sub("free", lowered))
        if words and words[0] in _CONDITIONS:
            continue  # "if the first hasn't shipped yet, ...": a condition asserts nothing
        for absent in _FREE_OF.findall(lowered):  # "interest-free instalments": there is no interest
            if is_content(absent):
                found.setdefault(stem(absent), set()).add(False)
        reach = 0
        for word in words:
            if word in NEGATIONS:
                reach = _NEGATION_REACH
                continue
            if word in _CLAUSE_BREAK:
                reach = 0
                continue
            if not is_content(word):
                continue
            found.setdefault(stem(word), set()).add(reach == 0)
            reach = max(reach - 1, 0)
    return found


def opening_stance(sentence: str) -> Stance | None:
    """Whether a sentence opens by answering yes or no ("Yes, …", "Unfortunately …", "No.")."""
    words = tokens(sentence)[:2]
    if not words:
        return None
    if words[0] in _YES or " ".join(words) == "of course":
        return "yes"
    if words[0] in _NO:
        return "no"
    return None


def is_yes_no_question(question: str) -> bool:
    return bool(_YES_NO_QUESTION.search(question.strip()))


@dataclass(frozen=True)
class Verdict:
    supported: bool
    reason: str = ""  # why not, e.g. "claims the passage lacks: cotton"
    claim: bool = True  # False: the sentence states nothing checkable (a pleasantry)


@dataclass
class Passage:
    """What a reply may say: the cited FAQ entry's question and answer, for one customer question."""

    question: str  # the customer's question
    faq_question: str
    answer: str
    known_words: Sequence[str] = ()  # also allowed: the company's name
    _polarity: dict[str, set[bool]] = field(init=False)
    _stems: set[str] = field(init=False)

    def __post_init__(self) -> None:
        text = f"{self.faq_question}\n{self.answer}"
        # Polarity comes from the answer alone: the FAQ question asks ("Can I add…?"), it states nothing.
        self._polarity = polarities(self.answer)
        self._stems = {stem(w) for w in tokens(text)} | {stem(w) for k in self.known_words for w in tokens(k)}

    @property
    def text(self) -> str:
        return f"{self.faq_question}\n{self.answer}"

    def supports_word(self, word: str) -> bool:
        return stem(word) in self._stems

    def polarity(self, word: str) -> set[bool]:
        return self._polarity.get(stem(word), set())

    def stance(self) -> Stance | None:
        """What the passage answers to a yes/no question: "no" when the passage sentence that shares the
        most content with the question negates one of its words or affirms their opposite (a price
        against "free"), "yes" when that sentence is the answer's first and opens with "yes"; None when
        it is not clear, also when several sentences share as much (then no reply may open with yes/no)."""
        if not is_yes_no_question(self.question):
            return None
        asked = {stem(w) for w in tokens(self.question) if is_content(w)}
        if not asked:
            return None
        answer_sentences = sentences(self.answer)
        overlaps = [len(asked & {stem(w) for w in tokens(s) if is_content(w)}) for s in answer_sentences]
        most = max(overlaps, default=0)
        best = [s for s, overlap in zip(answer_sentences, overlaps, strict=True) if overlap == most]
        if not most or len(best) > 1:
            return None
        sentence = best[0]
        stated = polarities(sentence)
        negated = any(False in stated.get(s, set()) for s in asked)
        # "Are swatches paid?" against "you can order free swatches", "is wrapping free?" against "for
        # €4": the passage affirms the opposite of what is asked.
        opposite = any(True in stated.get(o, set()) for s in asked for o in _OPPOSITES.get(s, ()))
        priced = "free" in asked and _PRICE.search(sentence) is not None and "free" not in stated
        if negated or opposite or priced:
            return "no"
        if (
            opening_stance(self.answer) == "yes"
            and sentence == answer_sentences[0]
            and most * 2 >= len(asked)
            and self._asks_nothing_beyond(asked)
        ):
            return "yes"  # the answer's "Yes," answers this question too: it shares half its words
        return None

    def _asks_nothing_beyond(self, asked: set[str]) -> bool:
        """Every word (`asked`: the question's content stems) and figure of the question is in the
        passage (the entry's question and answer).
        The answer's own "Yes," was written for its FAQ question; a question that adds a place, a day,
        a product or an amount the passage does not name ("a €300 gift card?" against cards "from €10
        to €250", "the Dutch rate if I live in France?") may have another answer, so it gets no "Yes".
        The entry's other phrasings do not count: one may ask the opposite ("do I pay for returns?"
        beside "Are returns free?"), to which its "Yes," is a no."""
        return asked <= self._stems and not unsupported_facts(self.question, [self.text])


@dataclass
class Verifier:
    """Checks generated sentences against a passage (rules plus an embedding check)."""

    embedder: Embedder | None = None
    min_similarity: float = 0.35  # a claim must be at least this close to some passage sentence
    carry_similarity: float = 0.6  # a kept sentence this close to the key sentence carries it
    carry_coverage: float = 0.6  # ... or one holding this share of the key sentence's content words

    def check(self, sentence: str, passage: Passage) -> Verdict:
        words = tokens(sentence)
        content = [w for w in words if is_content(w)]
        facts = unsupported_facts(sentence, [passage.text])
        if facts:
            return Verdict(False, "unsupported " + ", ".join(sorted({f.kind for f in facts})))
        stance = opening_stance(sentence)
        if stance is not None:
            expected = passage.stance()
            if expected != stance:
                why = f"the passage answers {expected!r}" if expected else "the passage gives no clear yes or no"
                return Verdict(False, f"opens with {stance!r} but {why}")
        if not content:
            return Verdict(True, claim=stance is not None)
        missing = sorted({w for w in content if not passage.supports_word(w)})
        if missing:
            return Verdict(False, "claims the passage lacks: " + ", ".join(missing))
        sentence_polarity = polarities(sentence)
        for word in content:
            said = sentence_polarity.get(stem(word), set())
            stated = passage.polarity(word)
            if stated and said and not said & stated:
                how = "negates" if False in said else "affirms"
                return Verdict(False, f"{how} {word!r}, which the passage does not")
        if self.embedder is not None and self.min_similarity > 0:
            best = self._best_similarity(sentence, [*sentences(passage.answer), passage.faq_question])
            if best < self.min_similarity:
                return Verdict(False, f"far from every passage sentence ({best:.2f})")
        return Verdict(True)

    def key_sentence(self, passage: Passage) -> str:
        """The answer's sentence that answers the customer's question: the closest to it by meaning
        (by shared words without an embedder); the first sentence wins a near tie."""
        options = sentences(passage.answer)
        if not options:
            return passage.answer
        if self.embedder is None:
            asked = {stem(w) for w in tokens(passage.question) if is_content(w)}
            overlaps = [len(asked & {stem(w) for w in tokens(s)}) for s in options]
            return options[int(np.argmax(overlaps))]
        vectors = self.embedder.encode([passage.question, *options])
        scores = vectors[1:] @ vectors[0]
        scores[0] += 0.05
        return options[int(np.argmax(scores))]

    def carries_key(self, kept: Sequence[str], passage: Passage, key: str | None = None) -> bool:
        """Whether the kept sentences still say what the passage's key sentence says."""
        claims = [s for s in kept if any(is_content(w) for w in tokens(s))]
        if not claims:
            return False
        key = key if key is not None else self.key_sentence(passage)
        key_words = {stem(w) for w in tokens(key) if is_content(w)}
        said = {stem(w) for s in claims for w in tokens(s) if is_content(w)}
        if key_words and len(key_words & said) / len(key_words) >= self.carry_coverage:
            return True
        if self.embedder is None:
            return False
        return self._best_similarity(key, claims) >= self.carry_similarity

    def _best_similarity(self, text: str, others: Sequence[str]) -> float:
        assert self.embedder is not None
        vectors = self.embedder.encode([text, *others])
        return float(np.max(vectors[1:] @ vectors[0])) if len(others) else 0.0


def faq_answer_for(question: str, document: FaqDocument) -> str:
    """The FAQ answer as the reply to this question: opened with a verified "Yes." or "No." where
    the passage clearly answers the yes/no question (`lead_in`), and without its own opening "Yes,"
    or "No," where that is not what it answers to this question (an entry written for "Do you
    offer express delivery?" opens with "Yes," which is wrong to "express for my curtains?")."""
    passage = Passage(question, document.question, document.answer)
    opening = opening_stance(document.answer)
    if opening is None:
        return lead_in(passage) + document.answer
    if passage.stance() == opening:
        return document.answer
    rest = _OPENING_WORD.sub("", document.answer, count=1)
    return rest[:1].upper() + rest[1:] if rest else document.answer


# A Chinese FAQ answer's own opening answer to its entry's question: 可以, 有的, 是的 ... and its stop.
_OPENING_YES_ZH = re.compile(r"^\s*(?:可以|有的|是的|当然)\s*[\u3002\uff0c\uff01,.!]\s*")
_CHINESE_WORDS = ChineseWords()
_MODALS_ZH = "能可会要想"
# A Chinese yes/no question: a closing 吗 (么, 嘛; not 什么, 怎么), or an A-not-A or 是否-type question.
_YES_NO_QUESTION_ZH = re.compile(
    r"(?<![什怎])[吗么嘛][\s?!.\uff1f\uff01\u3002]*$|能不能|可不可以|是不是|有没有|是否|会不会|要不要|行不行|可否|能否|需不需要|用不用|支不支持"
)


def chinese_faq_answer_for(question: str, document: FaqDocument, words: Words = _CHINESE_WORDS) -> str:
    """The Chinese FAQ answer as the reply to this question. Its opening 可以 or 有的 answers the
    entry's own question; it is kept only where the question asks nothing the passage does not name,
    and dropped where it adds a day, a place, an amount or a thing (周日能送到吗 against "Monday to
    Friday", 西班牙 against a list of countries, 58 euros against "from 60"), whose answer may be no,
    and where the question is not a yes/no question at all ("how much", "where").
    (`words`: the site's Chinese words, `lexical.words_for`, so its product names count as one word.)"""
    opening = _OPENING_YES_ZH.match(document.answer)
    if opening is None or not document.answer[opening.end() :].strip():
        return document.answer
    # The entry's question and answer only: a phrasing of it may ask the opposite (退货要自己付邮费吗
    # beside 退货免费吗), to which its opening 是的 is a no.
    offered = words.content(f"{document.question}\n{document.answer}", all_words=True)
    # jieba glues a modal to its verb (能寄到, 能发): the verb is what must be in the passage.
    asked = {word.lstrip(_MODALS_ZH) or word for word in words.content(question)}
    if _YES_NO_QUESTION_ZH.search(question.strip()) and asked <= offered:
        return document.answer
    return document.answer[opening.end() :]


def lead_in(passage: Passage) -> str:
    """A short verified opening for the FAQ answer to a yes/no question ("No. "), or "" when the
    passage gives no clear answer or already opens with one."""
    if opening_stance(passage.answer) is not None:
        return ""
    stance = passage.stance()
    return {"yes": "Yes. ", "no": "No. "}.get(stance or "", "")


_OPENING_WORD = re.compile(r"^\s*(?:yes|no|of course|sure|unfortunately)\b[\s,.!:;—-]*", re.IGNORECASE)


@dataclass
class VerifiedStream:
    """Releases a streamed reply sentence by sentence, each only once it is complete and verified,
    and none before one of them carries the passage's key sentence: nothing shown is ever taken back.
    A reply that never carries the key is replaced by the FAQ answer, with nothing of it shown."""

    verifier: Verifier
    passage: Passage
    key: str
    leaks: Callable[[str], bool] | None = None  # the instruction shield: True when text repeats them
    text: str = ""  # everything received
    kept: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)
    carried: bool = False
    leaked: bool = False
    _checked: int = 0  # how much of `text` has been split into sentences and checked
    _held: list[str] = field(default_factory=list)  # kept, waiting for the key to be carried

    def feed(self, delta: str) -> str:
        """Take the next piece of the reply; return what may be shown now ("" while holding)."""
        self.text += delta
        out = []
        while not self.leaked and (end := SENTENCE_END.search(self.text, self._checked)) is not None:
            out.append(self._take(self.text[self._checked : end.end()]))
            self._checked = end.end()
        return "".join(out)

    def finish(self) -> str:
        rest = self.text[self._checked :]
        self._checked = len(self.text)
        return self._take(rest) if rest.strip() and not self.leaked else ""

    @property
    def released(self) -> str:
        return "".join(self.kept) if self.carried else ""

    def _take(self, piece: str) -> str:
        sentence = piece.strip()
        if not sentence:
            return ""
        if self.leaks is not None and self.leaks(self.text[: self._checked + len(piece)]):
            self.leaked = True
            return ""
        verdict = self.verifier.check(sentence, self.passage)
        if not verdict.supported:
            self.dropped.append((sentence, verdict.reason))
            return ""
        # Sentences are joined by one space (a line break where the model wrote one), and the first
        # has nothing before it: what streams is exactly the final text.
        separator = ("\n" if self.text[: self._checked].endswith("\n") else " ") if self.kept else ""
        piece = separator + sentence
        self.kept.append(piece)
        if self.carried:
            return piece
        self._held.append(piece)
        if self.verifier.carries_key([kept.strip() for kept in self.kept], self.passage, self.key):
            self.carried = True
            out, self._held = "".join(self._held), []
            return out
        return ""
