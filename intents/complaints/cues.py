"""The words that make a message a complaint, and those that raise its severity.

A message is a complaint when its sentiment label is negative, or when it says so in words
whatever its sentiment (`COMPLAINT_CUES`: "unacceptable", "never arrived", "charged twice", "I want
to complain"; `REPEAT_CUES`: "third time", "still no"; `LEGAL_CUES`). A question such as "how do I
get a refund?" is neither, so it is not one. `intents.complaints.severity` reads the same cues.
Each set of cues also holds its Chinese words (`intents.complaints.chinese`), so a message in
either language is read by the same rules.
"""

from __future__ import annotations

import re

from intents.complaints import chinese


class Cues:
    """English cue words (matched as whole words) and their Chinese counterparts (matched anywhere:
    Chinese is written without spaces, so `\\b` finds no word boundary inside it)."""

    def __init__(self, english: re.Pattern[str], other: re.Pattern[str]) -> None:
        self.patterns = (english, other)

    def search(self, text: str) -> re.Match[str] | None:
        """The first cue found, as `re.Pattern.search` gives it; None when there is none."""
        for pattern in self.patterns:
            found = pattern.search(text)
            if found is not None:
                return found
        return None


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


COMPLAINT_CUES = Cues(
    _words(
        r"complain\w*",
        r"complaint",
        r"unacceptable",
        r"ridiculous",
        r"disgrace\w*",
        r"outrage\w*",
        r"appalling",
        r"fed up",
        r"not happy",
        r"unhappy",
        r"disappointed",
        r"worst",
        r"terrible",
        r"awful",
        r"useless",
        r"scam",
        r"rip[- ]?off",
        r"(?:never|not|hasn't|has not|haven't|have not|didn't|did not) (?:yet )?(?:arrived|come|received|shown up)",
        r"still (?:no|not|nothing|waiting|\w+n't)",
        r"charged\b[^.!?]{0,20}\btwice",
        r"double[- ]charged",
        r"overcharged",
        r"(?:is|was|arrived|came) (?:broken|damaged)",
        r"(?:doesn't|does not|didn't|did not|won't|stopped) work(?:ing)?",
        r"not working",
        r"wrong (?:item|order|size|product)",
        r"(?:so|very|was|were) rude",
        r"(?:no ?one|nobody) (?:answers|replies|helps|cares)",
    ),
    chinese.COMPLAINT,
)
LEGAL_CUES = Cues(
    _words(
        r"lawyers?",
        r"attorneys?",
        r"solicitors?",
        r"sue",
        r"suing",
        r"lawsuit",
        r"legal action",
        r"court",
        r"small claims",
        r"charge ?backs?",
        r"ombudsman",
        r"regulators?",
        r"trading standards",
        r"consumer protection",
        r"report (?:you|this|them) to",
    ),
    chinese.LEGAL,
)
SAFETY_CUES = Cues(
    _words(
        r"injur(?:ed|y|ies)",
        r"unsafe",
        r"dangerous",
        r"hazard\w*",
        r"caught fire",
        r"on fire",
        r"smoke",
        r"electric shock",
        r"burn(?:ed|t) (?:me|my|him|her)",
        r"allergic reaction",
        r"food poisoning",
        r"(?:in|to) (?:the )?hospital",
    ),
    chinese.SAFETY,
)
LEAVING_CUES = Cues(
    _words(
        r"cancel(?:l?ing)? my (?:account|subscription|membership|contract|plan|order|card)",
        r"close my account",
        r"switch(?:ing)? to",
        r"take my business elsewhere",
        r"taking my business elsewhere",
        r"(?:last|final) time I",
        r"never\b[^.!?]{0,40}\bagain",
        r"(?:i'm|i am) done with you",
        r"leaving you",
    ),
    chinese.LEAVING,
)
REPEAT_CUES = Cues(
    _words(
        r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+th) time",
        r"again and again",
        r"(?:\d+|several|many|multiple|countless|numerous) (?:times|calls|emails|e-mails|messages)",
        r"(?:already|keep|kept) (?:called|calling|asked|asking|told|contacted|writing|written|emailed|emailing)",
        r"still (?:no|not|nothing|waiting|\w+n't)",
        r"for (?:days|weeks|months)",
    ),
    chinese.REPEAT,
)
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def shouting(text: str) -> bool:
    """Three or more words in capitals making up at least half the words, or "!!!" (also "！！！")."""
    if "!!!" in text or "！！！" in text:
        return True
    words = _LETTERS.findall(text)
    capitals = [w for w in words if w.isupper()]
    return len(capitals) >= 3 and len(capitals) * 2 >= len(words)


def is_complaint(text: str, sentiment_label: str) -> bool:
    """A negative message, or one that complains in so many words, says it is not the first
    time, or threatens legal action."""
    return sentiment_label == "negative" or any(cues.search(text) for cues in (COMPLAINT_CUES, REPEAT_CUES, LEGAL_CUES))
