"""Which CSV cells a spreadsheet would run as a formula (OWASP "CSV injection"), for every CSV this
server writes: transcript exports and the FAQ's CSV.

A cell is risky when it starts with `=`, `+`, `-` or `@`, or with a tab or a carriage return. Some
spreadsheets also fold Unicode look-alikes into those (the full-width forms U+FF1D U+FF0B U+FF0D
U+FF20, the small forms U+FE66 U+FE62 U+FE63 U+FE6B, the minus sign U+2212) and skip leading spaces
and invisible characters before them, so the first character that is neither whitespace nor a
control or format character is normalised (NFKC) before it is checked. Writers put a `'` in front
of a risky cell, which spreadsheets show as text.
"""

from __future__ import annotations

import unicodedata

_TRIGGERS = frozenset("=+-@")
# Minus and plus signs that NFKC leaves as they are (U+207B superscript minus becomes U+2212).
_LOOKALIKES = frozenset("\u2212\u2795\u2796\u02d6\u02d7")
_SKIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def starts_like_formula(value: str) -> bool:
    """A spreadsheet might run `value` as a formula."""
    if value[:1] in ("\t", "\r"):
        return True
    for char in value:
        if char.isspace() or unicodedata.category(char) in _SKIPPED_CATEGORIES:
            continue
        first = unicodedata.normalize("NFKC", char)[:1]
        return first in _TRIGGERS or first in _LOOKALIKES
    return False
