"""Other companies a question names (`intents.companies`), and the hybrid index that lets only an
entry speaking of the company named answer such a question."""

from __future__ import annotations

import pytest

from intents.companies import Company, CompanyNames, company_names
from intents.hybrid import HybridIndex, off_topic_corpus
from intents.types import FaqDocument
from tests.intents.generation.conftest import HashingEmbedder

RETURNS = FaqDocument(1, "Are returns free?", "Returns are free within the EU and UK with our prepaid label.")
PRICE_MATCH = FaqDocument(2, "Do you price match?", "We don't match competitors' prices.")
BULBS = FaqDocument(3, "Do your lamps work with smart bulbs?", "Yes, with Philips Hue and IKEA Tradfri E27 bulbs.")
PRICE_MATCH_ZH = FaqDocument(4, "支持比价保价吗？", "我们不跟其他商家比价。")
REFUNDS_ZH = FaqDocument(5, "退款什么时候到账？", "退货入库检查后 5-7 个工作日内退款。")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Does H&M Home do free returns?", ["H&M Home"]),
        ("How do I get a refund from Ryanair?", ["Ryanair"]),
        ("is dhl used for the delivery?", ["DHL"]),
        ("IKEA's sofa came without legs", ["IKEA"]),
        ("does The White Company gift wrap for free?", ["The White Company"]),  # home-goods shops (stop 32)
        ("Macy's lets me pay in 4, do you?", ["Macy's"]),
        ("淘宝退款一般几天到账", ["淘宝"]),
        ("宜家的沙发买了能退吗", ["宜家"]),
        ("顺丰寄国际件要多少钱", ["顺丰"]),
    ],
)
def test_a_company_the_question_names_is_found_in_either_language(text: str, names: list[str]) -> None:
    assert [company.name for company in company_names().named(text)] == names


@pytest.mark.parametrize(
    "text",
    [
        "can I pay with PayPal or Klarna?",  # payment methods ask about the shop itself
        "is the mango wood table oiled?",  # a plain word, not a name
        "the next delivery slot",
        "这个灯适宜家用吗",  # 宜家 inside 适宜 / 家用
        "我住在北京东路",  # 京东 inside 北京 / 东路
        "能用支付宝付款吗",
    ],
)
def test_words_that_only_look_like_a_company_are_not_one(text: str) -> None:
    assert company_names().named(text) == ()


def test_an_entry_answers_about_a_company_only_when_it_speaks_of_it() -> None:
    names = company_names()
    [ikea] = names.named("IKEA")
    [amazon] = names.named("Amazon")
    [dhl] = names.named("DHL")
    assert names.speaks_of(ikea, BULBS)  # named in the answer
    assert not names.speaks_of(ikea, RETURNS)
    assert names.speaks_of(amazon, PRICE_MATCH)  # a retailer, and the entry speaks of competitors
    assert not names.speaks_of(dhl, PRICE_MATCH)  # a carrier is no competitor
    [jd] = names.named("京东上便宜10欧")
    assert names.speaks_of(jd, PRICE_MATCH_ZH) and not names.speaks_of(jd, REFUNDS_ZH)


def test_a_question_that_names_no_company_leaves_every_entry_answerable() -> None:
    assert company_names().unanswerable("are returns free?", [RETURNS, PRICE_MATCH]) is None


def test_a_list_without_latin_or_chinese_names_still_reads_text() -> None:
    names = CompanyNames((Company("淘宝", "retailer"),), ())
    assert names.named("Does Zara ship to Norway?") == ()
    assert [c.name for c in names.named("淘宝退款")] == ["淘宝"]


@pytest.fixture
def index() -> HybridIndex:
    embedder = HashingEmbedder()
    faq = [RETURNS, PRICE_MATCH, BULBS]
    return HybridIndex.build(faq, embedder, off_topic_vectors=embedder.encode(off_topic_corpus()))


def _scores(index: HybridIndex, query: str) -> dict[int, float]:
    vector = HashingEmbedder().encode([query])[0]
    return {m.document.id: m.score for m in index.retrieve(query, vector, k=3)}


def test_a_question_about_another_companys_returns_gets_no_score_from_our_returns_entry(index: HybridIndex) -> None:
    assert _scores(index, "are returns free?")[RETURNS.id] > 0
    assert _scores(index, "are H&M returns free?")[RETURNS.id] == 0.0


def test_a_competitor_named_in_a_price_match_question_keeps_the_price_match_entry(index: HybridIndex) -> None:
    scores = _scores(index, "Amazon has it cheaper, will you price match?")
    assert scores[PRICE_MATCH.id] > 0 and scores[RETURNS.id] == 0.0


@pytest.mark.parametrize(
    ("question", "bulbs_answer_names_it"),
    [
        ("Does John Lewis price match other shops?", False),
        ("What's John Lewis's policy on price matching?", False),
        ("is IKEA cheaper?", True),  # "… and IKEA Tradfri E27 bulbs"
    ],
)
def test_a_question_about_a_retailer_itself_is_answered_only_by_an_entry_that_says_its_name(
    question: str, bulbs_answer_names_it: bool
) -> None:
    """Not by one that speaks of competitors, nor by one whose phrasings name it."""
    asked = FaqDocument(
        2, PRICE_MATCH.question, PRICE_MATCH.answer, ("John Lewis has it for less, will you price match?",)
    )
    assert company_names().unanswerable(question, [asked, BULBS]) == [True, not bulbs_answer_names_it]
    assert company_names().unanswerable("John Lewis has it for less, can u price match?", [asked]) == [False]
    assert company_names().unanswerable("do the lamps work with IKEA Tradfri?", [BULBS]) == [False]


def test_an_index_built_without_the_list_answers_as_before(index: HybridIndex) -> None:
    index.companies = None
    assert _scores(index, "are H&M returns free?")[RETURNS.id] > 0


def test_a_sites_own_names_are_never_another_company() -> None:
    names = company_names().without(["Zara Home", "Cups & Mugs", "宜家家居"])
    assert names.named("Does Zara Home deliver on Sundays?") == ()
    assert [c.name for c in names.named("is it shipped with UPS?")] == ["UPS"]  # "Cups" holds no UPS
    assert names.named("宜家的沙发买了能退吗") == ()
    assert [c.name for c in names.named("Does H&M ship to Norway?")] == ["H&M"]


def test_an_index_of_a_site_with_a_name_on_the_list_answers_questions_about_itself() -> None:
    embedder = HashingEmbedder()
    index = HybridIndex.build([RETURNS], embedder, own_names=["H&M Home"])
    vector = embedder.encode(["are H&M Home returns free?"])[0]
    assert index.retrieve("are H&M Home returns free?", vector, k=1)[0].score > 0
