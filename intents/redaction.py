"""Personal data out of free text: e-mail addresses, phone numbers, payment card numbers and Chinese
resident identity card numbers become `[email]`, `[phone]`, `[card]` and `[id]`.

Used by transcript exports (and meant for logs and training data), so it must be fast on text with
nothing to redact, and careful with the numbers customers type that are not personal: order numbers
(`LL-2024-000123`), dates, prices, quantities, IP addresses and decimals stay as they are.

How numbers are told apart. Every run of digits joined by single separators (space, dash, dot,
parentheses, a leading `+`) is read as one candidate, never a piece of one, then judged as a whole:

- a card is 13-19 digits separated only by spaces or dashes that pass the Luhn check (a number
  that fails it is not a card, whatever its length); a card may sit at the start or end of a
  longer run (`4111 1111 1111 1111 123`, card then security code);
- a phone number is 8-15 digits after a `+` (E.164), or a national number: 9-13 digits in groups,
  one starting with a parenthesised area code, one run of 9-15 digits starting with `0` (a trunk
  or `00` international prefix), or a local `555-1234`;
- not a phone: a run glued to a word (`LL-2024-000123`, `v1.2.3`), one that starts with a year and a
  dash (`2024-000123`), a date (`2024-01-15`, `15.01.2024`), a dotted decimal or IP address, a run of
  more than 13 digits without an international prefix (a Luhn-invalid card number stays visible).
  A national number written without any separator (`5551234567`) is not recognised: it cannot be
  told from an account or order number, except a Chinese mobile number (below).

Chinese text. Han characters and full-width punctuation count as a gap, not as a word a number is
glued to (`我的手机号13812345678`, `卡号：6222…`), and nothing else changes for them:
- a Chinese mobile number is `1[3-9]` and nine more digits, in groups of 3-4-4 or none, with or
  without `+86` / `86` in front (`+86 138 1234 5678`, `138-1234-5678`, `13812345678`);
- a resident identity card number (居民身份证号码) is 18 characters: a region code, a birth date
  (checked: a real month and day from 1800 on), a sequence number and a check character (a digit
  or `X`) that must match the ISO 7064 MOD 11-2 checksum of the 17 before it. Only a valid one
  is redacted; an 18-digit order number almost never passes both the date and the checksum;
- a bank card (UnionPay, 16-19 digits) is a card as above: the Luhn check decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

Kind = Literal["email", "phone", "card", "id"]

PLACEHOLDERS: dict[Kind, str] = {"email": "[email]", "phone": "[phone]", "card": "[card]", "id": "[id]"}

# Han ideographs, CJK punctuation and full-width forms are word characters to `re`, yet a number
# or an address written next to them in Chinese text is not glued to a word. `_WORD` is `\w` and
# `_ALNUM` is `[^\W_]` without them.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_WORD = f"[^\\W{_CJK}]"
_ALNUM = f"[^\\W_{_CJK}]"

# The local part and the domain of an address; the top-level domain is letters only. The lookbehind
# makes the match start where a run of address characters starts, so scanning stays linear. The `@`
# may be percent-encoded (`%40`), as in a page URL after a form was sent: `?email=jo%40example.org`.
_LOCAL = f"(?:{_WORD}|[.%+-])"
_LABEL = f"{_ALNUM}(?:(?:{_WORD}|-)*{_ALNUM})?"
_EMAIL = re.compile(
    f"(?<!{_WORD})(?<![.%+-]){_LOCAL}+(?:@|%40){_LABEL}(?:\\.{_LABEL})*\\.[^\\W\\d_{_CJK}]{{2,}}(?!{_WORD})(?!-)"
)

# One candidate number: an optional `+`, then digit groups joined by one separator each, where a
# group may be a parenthesised area code. Atomic, so a candidate is always the whole run, never a
# piece of it. Not glued to a word on either side (`LL-2024-000123`, `abc123`, `123abc`).
_NUMBER = re.compile(
    f"(?<!{_WORD})(?<!\\+)(?<!{_ALNUM}[-./])"
    r"(?>(?:\+[ ]?)?(?:\([0-9]{1,5}\)[ ]?)?[0-9]+(?:[ ]?\([0-9]{1,5}\)[ ]?[0-9]+|[ .-][0-9]+)*)"
    f"(?!{_ALNUM})"
)
# A Chinese mobile number, the whole candidate: 1[3-9]x xxxx xxxx, maybe behind +86 or 86.
_CN_MOBILE = re.compile(r"(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}")
# A Chinese resident identity card number: region, birth date, sequence, check character; written
# whole or as 6 8 4 with spaces. The date and the checksum are checked in `_valid_resident_id`.
_CN_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{5}[ ]?(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[ ]?[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Seven digits anywhere: the least a phone number has. Texts without them skip the number scan.
_SEVEN_DIGITS = re.compile(r"[0-9](?:[^0-9]*[0-9]){6}")
# A date inside a run (15.01.2024 10:30 is a date and a time, not a phone number).
_DATE = re.compile(
    r"(?<![0-9])(?:[0-9]{1,2}([./-])[0-9]{1,2}\1[0-9]{4}|[0-9]{4}([./-])[0-9]{1,2}\2[0-9]{1,2})(?![0-9])"
)
_DIGIT_GROUP = re.compile(r"[0-9]+")
_YEAR = re.compile(r"(?:19|20)[0-9][0-9]")


@dataclass(frozen=True)
class Finding:
    """A piece of personal data found in a text: what it is and where (`text[start:end]`)."""

    kind: Kind
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn check payment card numbers carry in their last digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def resident_id_valid(number: str) -> bool:
    """Whether an 18-character Chinese resident identity card number carries the right check
    character (ISO 7064 MOD 11-2 over the first 17 digits) and a real birth date."""
    number = number.replace(" ", "").upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def _cards_in(candidate: str) -> list[tuple[int, int]]:
    """Where card numbers lie in a candidate run (offsets into it). From left to right, the longest
    run of whole digit groups with 13-19 digits, only spaces or dashes between them, that passes the
    Luhn check. A window never spans more than 19 groups, so this stays linear in the run."""
    groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(candidate)]
    found: list[tuple[int, int]] = []
    first = 0
    while first < len(groups):
        best: tuple[int, int] | None = None
        digits = 0
        for last in range(first, len(groups)):
            if last > first and candidate[groups[last - 1][1] : groups[last][0]] not in {" ", "-"}:
                break
            digits += groups[last][1] - groups[last][0]
            if digits > 19:
                break
            if digits >= 13:
                start, end = groups[first][0], groups[last][1]
                if luhn_valid(candidate[start:end].replace(" ", "").replace("-", "")):
                    best = (start, end)
                    following = last + 1
        if best is not None:
            found.append(best)
            first = following
        else:
            first += 1
    return found


def _is_phone(candidate: str) -> bool:
    groups = _DIGIT_GROUP.findall(candidate)
    digits = "".join(groups)
    count = len(digits)
    if candidate.startswith("+"):
        return 8 <= count <= 15
    if "(" in candidate:
        return 8 <= count <= 13
    if len(groups) == 1:
        # No separators: only a number with a trunk prefix (`07700900123`) or `00` prefix.
        return digits.startswith("0") and 9 <= count <= 15
    separators = set(candidate) - set("0123456789")
    if separators <= {"."} and (len(groups) == 2 or (len(groups) == 4 and all(len(g) <= 3 for g in groups))):
        return False  # a decimal (3.14159265) or an IPv4 address
    if _DATE.search(candidate):
        return False
    if _YEAR.fullmatch(groups[0]) and "-" in candidate and not digits.startswith("0"):
        return False  # a reference that starts with a year (2024-000123), or a date
    if count == 7:
        return [len(g) for g in groups] == [3, 4]  # a local number, 555-1234
    if digits.startswith("00"):
        return 11 <= count <= 15  # 0044 20 7946 0958
    return 9 <= count <= 13


def _numbers(text: str) -> Iterator[Finding]:
    for match in _NUMBER.finditer(text):
        candidate = match.group()
        if not _SEVEN_DIGITS.search(candidate):
            continue
        offset = match.start()
        if _CN_MOBILE.fullmatch(candidate):
            # Before the card check: +86 and an 11-digit mobile can pass Luhn by chance.
            yield Finding("phone", offset, match.end())
            continue
        cards = _cards_in(candidate)
        if not cards:
            if _is_phone(candidate):
                yield Finding("phone", offset, match.end())
            continue
        # What is left around the cards may hold a phone number (020 7946 0958 4111111111111111).
        position = 0
        for start, end in [*cards, (len(candidate), len(candidate))]:
            rest = candidate[position:start]
            stripped = rest.strip(" .-")
            if stripped and _SEVEN_DIGITS.search(stripped) and _is_phone(stripped):
                left = position + rest.index(stripped)
                yield Finding("phone", offset + left, offset + left + len(stripped))
            if start < end:
                yield Finding("card", offset + start, offset + end)
            position = end


def find_personal_data(text: str) -> list[Finding]:
    """Every e-mail address, phone number and card number in `text`, in order, not overlapping."""
    findings: list[Finding] = []
    if "@" in text or "%40" in text:
        findings.extend(Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text))
    if _SEVEN_DIGITS.search(text):
        taken = [(f.start, f.end) for f in findings]
        for match in _CN_ID.finditer(text):
            overlaps = any(start < match.end() and match.start() < end for start, end in taken)
            if not overlaps and resident_id_valid(match.group()):
                findings.append(Finding("id", match.start(), match.end()))
        taken = [(f.start, f.end) for f in findings]
        for finding in _numbers(text):
            # Digits inside an e-mail address (jane.doe.1987@...) belong to the address.
            if not any(start < finding.end and finding.start < end for start, end in taken):
                findings.append(finding)
        findings.sort(key=lambda f: f.start)
    return findings


def redact(text: str) -> str:
    """`text` with e-mail addresses, phone numbers and card numbers replaced by placeholders."""
    findings = find_personal_data(text)
    if not findings:
        return text
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)
