"""Which language a customer writes in, and the bot's fixed texts in it."""

from __future__ import annotations

import numpy as np
import pytest

from intents.embeddings import Vectors
from intents.gate import GatePolicy
from intents.languages import CHINESE, ENGLISH, detect_language, normalise_language, reply_language
from intents.retrieval import FaqIndex, RetrievalResponder
from intents.texts import TEXTS, text
from intents.types import Answer, FaqDocument, Turn


@pytest.mark.parametrize(
    "message",
    ["我想退货，怎么办？", "运费多少钱", "好", "订单LL-2024-000123还没到", "Lumen & Loom的羊毛毯可以机洗吗？"],
)
def test_a_message_in_chinese_characters_is_chinese(message: str) -> None:
    assert detect_language(message) == CHINESE


@pytest.mark.parametrize("message", ["How much is shipping?", "ok", "123", "👍", "What does 退货 mean in English?"])
def test_a_message_in_latin_letters_or_none_is_in_the_default_language(message: str) -> None:
    assert detect_language(message) == ENGLISH


def test_a_short_reply_without_letters_keeps_the_conversations_language() -> None:
    assert detect_language("ok", default=CHINESE) == CHINESE
    assert detect_language("2", default=CHINESE) == CHINESE


def test_japanese_and_korean_are_told_from_chinese_by_their_script() -> None:
    assert detect_language("送料はいくらですか") == "ja"
    assert detect_language("배송비는 얼마인가요?") == "ko"


@pytest.mark.parametrize("code", ["zh", "zh-CN", "zh_Hans", "ZH-hans", "zh-SG"])
def test_chinese_language_codes_are_one_code(code: str) -> None:
    assert normalise_language(code) == CHINESE


def test_the_reply_language_is_the_customers_when_the_site_serves_it_else_the_sites() -> None:
    assert reply_language(CHINESE, ["en", "zh-hans"], "en") == CHINESE
    assert reply_language("en-GB", ["en", "zh-hans"], "en") == ENGLISH
    assert reply_language("ja", ["en", "zh-hans"], "zh-hans") == CHINESE


def test_every_language_has_every_fixed_text() -> None:
    keys = set(TEXTS[ENGLISH])
    for language, texts in TEXTS.items():
        assert set(texts) == keys, language
        assert all(value.strip() for value in texts.values())
    # The contact form's confirmation names the address in every language.
    assert all("{email}" in texts["contact_left"] for texts in TEXTS.values())


def test_fixed_texts_are_in_the_language_asked_for_and_english_otherwise() -> None:
    assert text("not_sure", "zh-CN") == TEXTS[CHINESE]["not_sure"]
    assert detect_language(text("not_sure", CHINESE)) == CHINESE
    assert text("not_sure", "fr") == TEXTS[ENGLISH]["not_sure"]
    assert text("clarify") == TEXTS[ENGLISH]["clarify"]


class _TwoWords:
    model_name = "two-words"

    def encode(self, texts: list[str]) -> Vectors:
        rows = np.array([[float("退货" in t), float("运费" in t)] for t in texts], dtype=np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


def _final(responder: RetrievalResponder, history: list[Turn]) -> Answer:
    final = list(responder.answer(history))[-1]
    assert isinstance(final, Answer)
    return final


def test_the_gates_fixed_replies_follow_the_customers_language() -> None:
    docs = [FaqDocument(1, "怎么退货？", "30天内可以退货。"), FaqDocument(2, "运费多少？", "满50欧包邮。")]
    embedder = _TwoWords()
    responder = RetrievalResponder(embedder, FaqIndex.build(docs, embedder), policy=GatePolicy(answer_threshold=0.5))
    assert _final(responder, [Turn("customer", "火星天气怎么样", language=CHINESE)]).text == text("not_sure", CHINESE)
    assert _final(responder, [Turn("customer", "weather on mars")]).text == text("not_sure", ENGLISH)
    assert _final(responder, [Turn("customer", "我想退货", language=CHINESE)]).text == "30天内可以退货。"


def test_a_sentence_in_latin_letters_in_a_chinese_conversation_is_english() -> None:
    assert detect_language("Sorry, how much is shipping?", default=CHINESE) == ENGLISH
    assert detect_language("thanks", default=CHINESE) == CHINESE
