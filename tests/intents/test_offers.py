"""Questions whether the shop has something its FAQ never mentions (`intents.offers`), and the hybrid
index that answers none of them."""

from __future__ import annotations

import pytest

from intents.hybrid import HybridIndex, off_topic_corpus
from intents.lexical import ChineseWords
from intents.offers import ChineseFaqVocabulary, EntryWords, FaqVocabulary, thing_asked
from intents.types import FaqDocument
from tests.intents.generation.conftest import HashingEmbedder

FAQ = [
    FaqDocument(1, "Do you have a discount for first-time customers?", "Yes, 10% off your first order."),
    FaqDocument(2, "Do you have physical stores?", "We have a store in Amsterdam and a showroom in London."),
    FaqDocument(3, "How can I contact you?", "Email us or call our phone line.", ("what's your number?",)),
    FaqDocument(4, "Do you offer free shipping?", "Shipping is free over €60."),
    FaqDocument(5, "Do you have a trade programme?", "Yes, for businesses such as hotels and cafés."),
]
ENGLISH = FaqVocabulary(" ".join(f"{d.question} {' '.join(d.alternatives)} {d.answer}" for d in FAQ).lower())


@pytest.mark.parametrize(
    ("question", "unnamed"),
    [
        ("Do you offer a military discount?", {"military"}),
        ("Is there parking at the Amsterdam store?", {"parking"}),  # the thing ends where "at ..." begins
        ("Does the London showroom have toilets?", {"toilets"}),
        ("Are you hiring?", {"hiring"}),
        ("Do you sell paint or wallpaper?", {"paint", "wallpaper"}),
        ("Can I book a private shopping appointment at the London showroom?", {"private", "shopping", "appointment"}),
        ("could we hire a stylist?", {"stylist"}),
        ("Who is the CEO of your stores?", {"ceo"}),
        ("who's your landlord", {"landlord"}),
    ],
)
def test_an_existence_question_about_something_the_faq_never_names_is_found(question: str, unnamed: set[str]) -> None:
    assert ENGLISH.unnamed_things(question) == unnamed


@pytest.mark.parametrize(
    "question",
    [
        "Do you have a discount for first-timers?",  # every word of the thing is the FAQ's (first-time)
        "do you offer free shippng?",  # a letter dropped
        "do you have free shiping?",
        "is there a phone line I can ring?",  # what is asked for is "a phone line"; "I can ring" is a clause
        "how do I get the first-order discount?",  # not an existence question
        "can I return paint I bought?",
        "can I arrange free shipping?",  # the FAQ speaks of free shipping
        "who do I call about my order?",  # "I call ..." is a clause
        "who offers free shipping?",
    ],
)
def test_other_questions_and_the_faqs_own_words_are_left_to_the_gate(question: str) -> None:
    assert ENGLISH.unnamed_things(question) == set()


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("Does the London showroom have a café where I can get a coffee?", "cafe"),
        ("Is there a café inside the Amsterdam store?", "cafe"),
        ("Can I book a private shopping appointment at the Amsterdam store?", "appointment"),
        ("What tog are your duvets?", "tog"),
        ("Which Tube station is nearest to the London showroom?", "station"),
        ("Who founded Lumen & Loom?", "founded"),  # the site's own name is not what is asked about
        ("Do you sell replacement lampshades?", "lampshades"),  # the last word of the thing
        ("Can I bring my dog into the Amsterdam store?", "dog"),  # the thing ends where "into ..." begins
        ("Do you run candle-making workshops at the store?", "workshops"),
        ("Do you host events at the London showroom?", "events"),
        ("Can you engrave a cutting board?", "board"),
        ("Can I buy a replacement leg for my chair?", "leg"),
    ],
)
def test_the_thing_an_existence_or_which_question_asks_about_is_its_last_content_word(
    question: str, thing: str
) -> None:
    assert thing_asked(question, frozenset({"lumen", "loom"})) == thing


@pytest.mark.parametrize(
    "question",
    [
        "is there a charge to collect my order?",  # a property of what the entry speaks of
        "what time does the Amsterdam store open?",
        "is there a time limit for sending stuff back",
        "which cities have a shop?",
        "are there things I can't return?",
        "is there a Lumen & Loom shop in Paris?",  # the site's own name, and "shop", name no thing
        "how long does delivery take?",  # not an existence or which-question
        "what do I do if my parcel is late?",
    ],
)
def test_properties_places_and_other_questions_ask_about_no_thing(question: str) -> None:
    assert thing_asked(question, frozenset({"lumen", "loom"})) is None


def test_an_entry_names_a_thing_in_another_form_or_with_a_typing_slip() -> None:
    words = EntryWords("Our trade programme is for hotels and cafés. Shipping is free.")
    assert words.names("cafe") and words.names("hotel") and words.names("shippng")
    assert not words.names("parking")


def test_a_replaced_letter_is_another_word_not_a_typo() -> None:
    vocabulary = FaqVocabulary("we take care with packing")
    assert vocabulary.unnamed_things("is there parking?") == {"parking"}


CHINESE_FAQ = (
    "新客户有优惠吗？首单 10% 折扣。有实体店吗？阿姆斯特丹门店和伦敦展厅。怎么联系你们？电话和邮件。号码见页面。"
)


@pytest.mark.parametrize(
    ("question", "unnamed"),
    [
        ("有没有教师优惠", {"教师"}),
        ("门店有停车场吗", {"停车场"}),
        ("你们卖油漆吗", {"油漆"}),
        ("有没有可以直接打的电话号码", set()),  # 电话 and 号码 are both the FAQ's
        ("订了四样东西箱子里只有三样", set()),  # 只有 is not "have"
        ("新客户有优惠吗", set()),
    ],
)
def test_a_chinese_existence_question_names_the_words_the_faq_never_uses(question: str, unnamed: set[str]) -> None:
    assert ChineseFaqVocabulary(CHINESE_FAQ).unnamed_things(question) == unnamed


@pytest.fixture
def index() -> HybridIndex:
    embedder = HashingEmbedder()
    return HybridIndex.build(FAQ, embedder, off_topic_vectors=embedder.encode(off_topic_corpus()))


def _best(index: HybridIndex, query: str) -> float:
    vector = HashingEmbedder().encode([index.search_text(query)])[0]
    return index.retrieve(query, vector, k=1)[0].score


def test_no_entry_answers_whether_the_shop_has_what_its_faq_never_names(index: HybridIndex) -> None:
    assert _best(index, "Do you have a discount for first-time customers?") > 0
    assert _best(index, "Do you have a military discount?") == 0.0
    # A place is not such a thing: the FAQ's list of stores answers "a store in Vienna?" (no).
    assert _best(index, "Do you have a store in Vienna?") > 0
    index.vocabulary = None
    assert _best(index, "Do you have a military discount?") > 0


def test_only_an_entry_that_names_the_thing_asked_about_answers(index: HybridIndex) -> None:
    # The stores entry speaks of the showroom but not of a café; the trade programme names cafés.
    question = "Does the London showroom have a café?"
    vector = HashingEmbedder().encode([question])[0]
    matches = {m.document.id: m.score for m in index.retrieve(question, vector, k=len(FAQ))}
    assert matches[2] == 0.0 and matches[5] > 0
    assert _best(index, "Is there a discount for cafés?") > 0
    index.entry_words = []
    vector = HashingEmbedder().encode([question])[0]
    assert {m.document.id: m.score for m in index.retrieve(question, vector, k=len(FAQ))}[2] > 0


def test_a_chinese_index_knows_its_own_words() -> None:
    embedder = HashingEmbedder()
    faq = [FaqDocument(1, "新客户有优惠吗？", "订阅邮件即可获得首单 10% 折扣码。")]
    index = HybridIndex.build(faq, embedder, words=ChineseWords())
    vectors = embedder.encode(["有没有教师优惠", "新客户有优惠吗"])
    assert index.retrieve("有没有教师优惠", vectors[0], k=1)[0].score == 0.0
    assert index.retrieve("新客户有优惠吗", vectors[1], k=1)[0].score > 0
