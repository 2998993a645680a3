"""Which language a customer message is written in.

Script detection, not a statistical model: the languages a site serves are told apart by their
writing system, which a handful of characters settles reliably even in a two-word message, where
n-gram identifiers (langdetect, fastText's lid.176) are at their least reliable. Han characters
are Chinese (`zh-hans`) unless kana says Japanese; Hangul is Korean. A message in Latin letters,
or with no letters at all ("123", "👍"), is in the `default` language: the caller passes the
conversation's language so far, else the site's, so a short "ok" in a Chinese conversation stays
Chinese, while a sentence in Latin letters there is English. Telling English from French, or
Simplified from Traditional Chinese, is out of scope until a site serves two languages that share
a script.
"""

from __future__ import annotations

import re

ENGLISH = "en"
CHINESE = "zh-hans"
# Language codes as sites name them (BCP 47, lower case): the widget and the console use the same.
LANGUAGE_NAMES: dict[str, str] = {ENGLISH: "English", CHINESE: "简体中文"}

# CJK Unified Ideographs, Extension A, and the compatibility block.
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
# Languages written in a script of their own, which a message in Latin letters is not in.
_OWN_SCRIPT = frozenset({CHINESE, "zh-hant", "ja", "ko"})


def has_han(text: str) -> bool:
    """Whether `text` holds a Chinese (Han) character."""
    return _HAN.search(text) is not None


def normalise_language(code: str) -> str:
    """A language code in the form sites use: `zh`, `zh-CN`, `zh_Hans` and `zh-SG` are `zh-hans`;
    other codes are lower-cased with `-` (`en-GB` stays a variant of `en`: `en-gb`)."""
    code = code.strip().replace("_", "-").lower()
    if code in {"zh", "zh-cn", "zh-sg", "zh-hans", "zh-hans-cn", "zh-my"}:
        return CHINESE
    return code


def base_language(code: str) -> str:
    """`en` for `en-gb`; `zh-hans` stays itself (the script is what tells it apart)."""
    code = normalise_language(code)
    return code if code.startswith("zh-") else code.split("-")[0]


def detect_language(text: str, *, default: str = ENGLISH) -> str:
    """The language of `text`: `zh-hans`, `ja` or `ko` by its script when that script outweighs
    the Latin words in it (an order number or a product name in a Chinese sentence does not make it
    English), else `default`."""
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if not (han or kana or hangul):
        # A sentence in Latin letters in a Chinese conversation is the customer switching language;
        # one word ("ok", "thanks") is not.
        return ENGLISH if latin_words >= 2 and default in _OWN_SCRIPT else default
    if kana and han + kana >= latin_words:
        return "ja"
    if hangul and hangul >= latin_words:
        return "ko"
    if han and han >= latin_words:
        return CHINESE
    return default


def reply_language(detected: str, supported: list[str] | tuple[str, ...], default: str) -> str:
    """The language to answer in: the customer's when the site serves it, else the site's default."""
    detected = normalise_language(detected)
    served = [normalise_language(s) for s in supported]
    if detected in served:
        return detected
    if base_language(detected) in served:
        return base_language(detected)
    return normalise_language(default)
