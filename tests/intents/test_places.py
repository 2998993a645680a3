"""Places a question names (`intents.places`), read as their country and region, and the hybrid
index that searches with them."""

from __future__ import annotations

import pytest

from intents.hybrid import FEATURES, HybridIndex, off_topic_corpus
from intents.lexical import ChineseWords
from intents.places import place_names
from intents.retrieval import Match, _follow_up_reading
from intents.types import FaqDocument
from tests.intents.generation.conftest import HashingEmbedder


@pytest.mark.parametrize(
    ("text", "hints"),
    [
        ("I live in Geneva, can I still order from you?", [("Geneva", ["Switzerland"])]),
        ("how long to Vienna?", [("Vienna", ["Austria", "EU"])]),
        ("customs when ordering to Scotland?", [("Scotland", ["United Kingdom", "UK"])]),
        ("do you deliver to Austria?", [("Austria", ["EU"])]),
        ("I live in Nice", [("Nice", ["France", "EU"])]),
        ("send it to the US", [("US", ["United States"])]),
        ("我在维也纳，普通快递几天到？", [("维也纳", ["奥地利", "欧盟"])]),
        ("住慕尼黑，一周之内能收到吗？", [("慕尼黑", ["德国", "欧盟"])]),
    ],
)
def test_a_place_is_read_as_its_country_and_region(text: str, hints: list[tuple[str, list[str]]]) -> None:
    assert place_names().hints(text) == hints


@pytest.mark.parametrize(
    "text",
    [
        "a nice lamp for the hall",  # also plain words: only a capitalised name, not first in a sentence
        "Nice! do you have it in grey?",
        "can we split the payment?",
        "is the bath towel cotton?",
        "jersey fitted sheets",
        "can you send us a sample?",
        "shipping to Japan?",  # a country in no region adds nothing
        "这个马赛克瓷砖防水吗",  # 马赛 inside 马赛克
        "汉堡包形状的靠垫",  # 汉堡 inside 汉堡包
    ],
)
def test_words_that_are_no_place_or_say_nothing_more_give_no_hint(text: str) -> None:
    assert place_names().hints(text) == []


def test_a_place_the_faq_names_itself_is_left_as_it_is() -> None:
    faq_text = "we have a flagship store in amsterdam"
    assert place_names().hints("is the Amsterdam store open on Monday?", faq_text) == []
    assert place_names().hints("is there a store in Berlin?", faq_text) == [("Berlin", ["Germany", "EU"])]


def test_a_place_named_only_inside_a_longer_place_name_is_not_named_by_the_faq() -> None:
    faq_text = "Deliveries to the Scottish Highlands, Northern Ireland and the islands take 3-5 days."
    assert place_names().hints("how long would a rug take to land in Ireland?", faq_text) == [("Ireland", ["EU"])]
    assert place_names().hints("can it go to Galway?", faq_text) == [("Galway", ["Ireland", "EU"])]
    assert place_names().hints("and to Northern Ireland?", faq_text) == []


OUTSIDE = FaqDocument(1, "Do you ship outside the EU and UK?", "We can't ship elsewhere, including Switzerland.")
EU = FaqDocument(2, "How long does delivery take within the EU?", "Standard delivery takes 3-5 days in the EU.")
RETURNS = FaqDocument(3, "How do I return an item?", "Use the returns portal within 30 days.")


@pytest.fixture
def index() -> HybridIndex:
    embedder = HashingEmbedder()
    return HybridIndex.build([OUTSIDE, EU, RETURNS], embedder, off_topic_vectors=embedder.encode(off_topic_corpus()))


def _features(index: HybridIndex, query: str, feature: str) -> list[float]:
    vector = HashingEmbedder().encode([query])[0]
    return [float(v) for v in index.features(query, vector)[:, FEATURES.index(feature)]]


def test_a_city_finds_the_entry_that_names_its_country(index: HybridIndex) -> None:
    lexical = _features(index, "I live in Geneva, can I order?", "lexical_log")
    assert lexical[0] > lexical[1] and lexical[0] > 0
    index.places = None
    assert _features(index, "I live in Geneva, can I order?", "lexical_log")[0] == 0.0


def test_a_city_counts_as_covered_by_an_entry_that_names_its_country_or_region(index: HybridIndex) -> None:
    uncovered = _features(index, "delivery to Vienna", "uncovered")
    assert uncovered[1] == 0  # the EU entry has Vienna, a city in the EU
    assert uncovered[2] == 2  # the returns entry has neither word
    index.places = None
    assert _features(index, "delivery to Vienna", "uncovered")[1] == 1


def test_a_chinese_city_finds_the_entry_of_its_region() -> None:
    embedder = HashingEmbedder()
    faq = [
        FaqDocument(1, "发货到欧盟国家要多久？", "欧盟其他国家 3-5 个工作日。"),
        FaqDocument(2, "发货到英国要多久？", "英国本土标准配送需 2-4 个工作日。"),
    ]
    index = HybridIndex.build(faq, embedder, words=ChineseWords())
    query = "我在维也纳，普通快递几天到？"
    lexical = index.features(query, embedder.encode([query])[0])[:, FEATURES.index("lexical_log")]
    assert lexical[0] > lexical[1]


def test_the_text_searched_with_names_each_unknown_place_with_its_country_and_region(index: HybridIndex) -> None:
    assert index.search_text("I live in Geneva, can I order?") == "I live in Geneva (Switzerland), can I order?"
    annotated = place_names().annotated("我在维也纳，普通快递几天到？")
    assert annotated == "我在维也纳\uff08奥地利\uff0c欧盟\uff09，普通快递几天到？"
    # A place the FAQ names (Switzerland, in the first entry) is left as it is.
    assert index.search_text("do you ship to Switzerland?") == "do you ship to Switzerland?"
    index.places = None
    assert index.search_text("I live in Geneva, can I order?") == "I live in Geneva, can I order?"


CUSTOMS = FaqDocument(4, "Will I have to pay customs duties?", "No. EU and UK orders ship from inside the EU and UK.")
SCOTLAND_DELIVERY = FaqDocument(5, "Can you deliver to remote places?", "Deliveries to Scotland's islands take longer.")


def test_a_follow_up_naming_a_place_stays_with_the_entry_about_its_region() -> None:
    merged = "do I pay customs in Ireland? and in Scotland?"
    vector = HashingEmbedder().encode([merged])[0]
    alone = ("and in Scotland?", vector, [Match(SCOTLAND_DELIVERY, 0.04)])
    read_together = (merged, vector, [Match(CUSTOMS, 0.88), Match(SCOTLAND_DELIVERY, 0.02)])
    # Scotland is in the UK, which the customs entry names: the follow-up is still about customs.
    assert _follow_up_reading("and in Scotland?", alone, read_together)[2][0].document == CUSTOMS
    # A follow-up naming something the entry does not cover moves to the entry that has it.
    islands = (merged, vector, [Match(CUSTOMS, 0.88), Match(SCOTLAND_DELIVERY, 0.02)])
    assert _follow_up_reading("and the islands?", alone, islands)[2][0].document == SCOTLAND_DELIVERY
