"""Questions whether the shop has, sells or offers something its FAQ never mentions.

"Do you offer a military discount?", "Is there parking at the Amsterdam store?", "Do you sell
paint?" read like the FAQ's own questions ("Do you have a discount for first-time customers?",
"Do you have physical stores?") and score close to them, but no entry says a word about military
discounts, parking or paint: the honest reply is a person, not the nearest entry. The FAQ's own
words (every question, alternative and answer of the site's entries in that language) are what the
shop talks about; an existence question whose thing is none of them is not the FAQ's to answer.

In English the thing is what follows "do you sell / have / offer", "is there", "are you hiring";
in Chinese what follows 有没有 / 有…吗 / 卖…吗 / 提供…吗 (its jieba words of two or more characters,
each known when the FAQ's text holds it, or holds every shorter word jieba finds in it).
"""

from __future__ import annotations

import re

from intents.lexical import CHINESE_STOPWORDS, jieba_words
from intents.words import is_content, stem, tokens

# "do you sell X", "does the London showroom have X", "can you repair X", "do you run workshops", "is there
# X", "are you hiring"
_EXISTENCE = re.compile(
    r"\b(?:do|does|can|could)\s+(?:you|u|y'all|the\s+\w+(?:\s+\w+)?)\s+"
    r"(?:have|has|sell|offer|do|give|provide|hire|repair|buy|rent|stock|hold|host|run|organi[sz]e|engrave|"
    r"personali[sz]e|monogram)\b(?P<thing>.*)"
    r"|\b(?:is|are)\s+there\s+(?P<there>.*)"
    r"|\bare\s+you\s+(?P<hiring>hiring\b.*)"
    # "can I book a private shopping appointment", "could we hire a stylist", "can I bring my dog", "can I
    # buy a replacement leg"
    r"|\b(?:can|could|may)\s+(?:i|we)\s+(?:book|reserve|schedule|arrange|hire|rent|borrow|lease|bring|buy|purchase)\b"
    r"(?P<booking>.*)"
    # "who founded Lumen & Loom?", "who is your CEO?": the FAQ says who only where it names them
    r"|^\W*who(?:'s|\s+is|\s+are|\s+was|\s+were)?\s+(?P<who>.*)",
    re.IGNORECASE,
)

# What is asked for ends where a clause or a place begins: "a phone line | I can ring", "parking | at the
# Amsterdam store", "medical advice | about my headache".
_THING_ENDS = re.compile(
    r"\b(?:i|you|we|they|he|she|it|at|in|into|on|onto|for|to|from|with|about|near|inside|by|when|if|that|which|"
    r"who|where|"
    r"so|because|before|after|while)\b|[,.?!;]",
    re.IGNORECASE,
)


# "what tog are your duvets?", "which Tube station is nearest?": the thing is the words between the
# question word and the verb.
_WHICH = re.compile(
    r"^\W*(?:what|which)\s+(?P<which>[a-z][\w'-]*(?:\s+[a-z][\w'-]*){0,2}?)\s+"
    r"(?:is|are|do|does|did|can|could|should|will|would|was|were|has|have)\b",
    re.IGNORECASE,
)
# Words that name a property of what an entry speaks of, or any thing at all, rather than a thing of
# their own: "is there a charge to collect?", "what time does the store open?", "which cities have a
# shop?", "are there things I can't return?". The entry answers them without the word ("free",
# "10:00 to 18:00", "Amsterdam and London", "items").
_PROPERTIES = frozenset(
    {
        "amount", "charge", "charges", "cities", "city", "cost", "costs", "countries", "country", "date",
        "day", "days", "deadline", "fee", "fees", "hour", "hours", "kind", "limit", "line", "location",
        "locations", "maximum", "minimum", "number", "option", "options", "place", "places", "price", "sort",
        "spend", "stuff", "temp", "temperature", "thing", "things", "time", "times", "town", "towns", "type",
        "way",
    }
)  # fmt: skip


class EntryWords:
    """One entry's words (question, alternatives and answer), to tell whether it names a thing."""

    def __init__(self, text: str) -> None:
        self.words = frozenset(tokens(text))
        self.stems = frozenset(stem(word) for word in self.words)

    def names(self, word: str) -> bool:
        """Whether the entry uses `word`, in another form ("cafés" for "café") or one typing slip off."""
        # "cafe" is named by "cafés": the crude stem of a plural in -es drops its e ("caf").
        return stem(word) in self.stems or stem(f"{word}s") in self.stems or _one_letter_off(word, self.words)


def thing_asked(question: str, own_words: frozenset[str] = frozenset()) -> str | None:
    """The word that names what an existence or which-question asks about: the last content word of
    its thing ("a café" in "does the London showroom have a café where…", "station" in "which Tube
    station is nearest…", "founded" in "who founded Lumen & Loom?"); None for any other question, and
    for a property of the thing ("is there a fee…"). `own_words`, the site's own name, is not a thing
    asked about. Only an entry that names it can answer: the stores entry does not answer whether the
    showroom has a café, though it speaks of the showroom."""
    thing = _existence_thing(question)
    if thing is None and (which := _WHICH.search(question)) is not None:
        thing = which.group("which")
    if thing is None:
        return None
    words = [word for word in tokens(thing) if is_content(word) and word not in own_words]
    if not words or words[-1] in _PROPERTIES:
        return None
    return words[-1]


class FaqVocabulary(EntryWords):
    """The words a site's FAQ uses (every question, alternative and answer of one language)."""

    def unnamed_things(self, question: str) -> set[str]:
        """The words of what an existence question asks for that the FAQ never uses; empty for any
        other question. A word one letter off a word of the FAQ ("shippng") counts as that word."""
        thing = _existence_thing(question)
        if thing is None:
            return set()
        return {word for word in tokens(thing) if is_content(word) and not self.names(word)}


def _existence_thing(question: str) -> str | None:
    """What an existence question asks for, up to where a clause or a place begins; None for any other."""
    match = _EXISTENCE.search(question)
    if match is None:
        return None
    return _THING_ENDS.split(next(group for group in match.groups() if group is not None), maxsplit=1)[0]


def _one_letter_off(word: str, known: frozenset[str]) -> bool:
    """Whether a word of `known` is `word` with one letter dropped, added, or two neighbours swapped:
    the usual typing slips ("shippng", "exspress", "recieve"). A replaced letter is not counted: it
    makes other words ("parking" is not "packing")."""
    if len(word) < 5:
        return False
    for i in range(len(word) + 1):
        if i < len(word) and word[:i] + word[i + 1 :] in known:
            return True
        if i < len(word) - 1 and word[:i] + word[i + 1] + word[i] + word[i + 2 :] in known:
            return True
        if any(word[:i] + letter + word[i:] in known for letter in "abcdefghijklmnopqrstuvwxyz"):
            return True
    return False


# 有没有学生折扣 / 有学生折扣吗 / 你们卖油漆吗 / 门店有停车场吗 / 提供上门安装吗 / 是否有…
_EXISTENCE_ZH = re.compile(
    r"(?:有没有|是否有|有无|(?<![没只还所都拥具])有|卖不卖|卖|提供|支持)"
    r"(?P<thing>[^\uff0c\u3002\uff1f\uff01?!,]{1,16}?)(?:吗|么|不|没有|[\uff1f?]|$)"
)
_THING_ENDS_ZH = re.compile(r"可以|能|的|给|在|吗")


class ChineseFaqVocabulary:
    """The Chinese FAQ's text, to tell which words of an existence question it never uses."""

    def __init__(self, text: str) -> None:
        self.text = text.lower()

    def unnamed_things(self, question: str) -> set[str]:
        match = _EXISTENCE_ZH.search(question.lower())
        if match is None:
            return set()
        thing = _THING_ENDS_ZH.split(match.group("thing"), maxsplit=1)[0]
        return {
            word
            for word in jieba_words(thing)
            if len(word) >= 2 and word not in CHINESE_STOPWORDS and not self._knows(word)
        }

    def _knows(self, word: str) -> bool:
        if word in self.text:
            return True
        parts = [part for part in jieba_words(word, search=True) if len(part) >= 2 and part != word]
        return bool(parts) and all(part in self.text for part in parts)
