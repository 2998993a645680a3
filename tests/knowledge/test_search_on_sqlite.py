"""The console's knowledge search on the embedded database (SQLite, what `make run` uses), where
Django writes JSON lists with non-ASCII characters escaped: a Chinese word still finds the entries
whose alternatives hold it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.processes import manage

pytestmark = pytest.mark.integration

KNOWLEDGE = Path(__file__).resolve().parents[2] / "chatbot" / "knowledge"
FOUND = """
from chatbot.knowledge.selectors import faq_entries_find
from chatbot.sites.models import Site
site = Site.objects.get(key="demo")
print(sorted(entry.question for entry in faq_entries_find(site_ids=[site.pk], query={word!r})))
"""


@pytest.mark.parametrize("word", ["坏了", "在哪"])
def test_a_chinese_word_only_the_alternatives_hold_finds_their_entries(embedded_server: Any, word: str) -> None:
    entries = json.loads((KNOWLEDGE / "demo_faq_zh.json").read_text(encoding="utf-8"))
    expected = sorted(e["question"] for e in entries if any(word in a for a in e.get("alternatives", [])))
    assert expected and not any(word in e["question"] or word in e["answer"] for e in entries)
    found = manage("shell", "-c", FOUND.format(word=word), env=embedded_server.env).strip().splitlines()[-1]
    assert found == repr(expected)
