"""Splitting a finished text into the pieces that are streamed to the widget."""

from __future__ import annotations

import re

_WORD_WITH_SPACE = re.compile(r"\S+\s*|\s+")


def split_for_streaming(text: str) -> list[str]:
    """Words with their trailing whitespace; joined back they give exactly `text`."""
    return _WORD_WITH_SPACE.findall(text)
