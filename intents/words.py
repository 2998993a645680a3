"""Words as the retrieval and the verifier see them: tokens, crude stems, and the content words
of a text (those that state something a customer could act on), and its sentences."""

from __future__ import annotations

import re
import unicodedata

TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
SENTENCE = re.compile(r"[^.!?\n\u3002\uff01\uff1f]+[.!?\u3002\uff01\uff1f]*")  # and Chinese 。！？


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATIONS = word_set(
    "not no never cannot can't don't doesn't won't isn't aren't wasn't weren't hasn't haven't hadn't "
    "shouldn't couldn't wouldn't didn't mustn't without unable nor neither none nothing"
)
# Words that state nothing a customer could act on: function words, pleasantries, and the words every
# support reply uses. Anything else must be in the passage.
NO_CLAIM = word_set(
    """
    a an the this that these those there here it its it's they them their theirs we us our ours you your yours
    i me my mine he she his her him one ones some such each other another
    am is are was were be been being do does did done doing have has had having will would shall should can
    could may might must
    i'm you're we're they're it's that's there's here's i'll you'll we'll they'll i've you've we've i'd you'd
    we'd let's
    and or but so if then than as of in on at to for from by with about into onto over under up down out off
    just also too very really quite well still yet again even both either whether while when where which who
    whom whose what how why because though although
    yes yeah sure certainly absolutely definitely course okay ok
    please thank thanks thanking welcome glad happy pleased sorry apologise apologize apologies hope hoping
    help helping helped assist assistance question questions asking ask asked information info answer
    let know need want like see find look looking feel great good nice kind regards best dear hi hello hey
    customer customers team service support assistant shop store company
    any anything something everything more most much many way ways make makes sure
    """
)
_STEM_PREFIX = 5  # words sharing their first five letters share a stem ("deliver", "delivery", "delivered")


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers; accents dropped, so "café" is the word "cafe", not "caf"."""
    return TOKEN.findall(_without_accents(text.lower().replace("\u2019", "'")))


def _without_accents(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A crude stem: plural and verb endings stripped, then the first letters. Good enough to match
    "returns"/"returned"/"return" and "immediately"/"immediate"; a real stemmer would also do."""
    word = word.removesuffix("'s")
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + replacement
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # "wrapped" -> "wrap", "shipping" -> "ship"
            break
    return word[:_STEM_PREFIX]


def is_content(word: str) -> bool:
    return word not in NO_CLAIM and word not in NEGATIONS and not word[0].isdigit()


def content_stems(text: str, *, all_words: bool = False) -> set[str]:
    """The stems of the words of `text` that state something (`all_words`: of every word)."""
    return {stem(word) for word in tokens(text) if all_words or is_content(word)}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]
