"""The verifier between the dialogue model and the customer: the contradictions a small model was
seen to make, replayed as its output, never reach the widget; a streamed reply never shows a
sentence that is dropped later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intents.gate import GatePolicy
from intents.generation.responder import GeneratingResponder
from intents.generation.verifier import (
    Passage,
    VerifiedStream,
    Verifier,
    chinese_faq_answer_for,
    faq_answer_for,
    lead_in,
)
from intents.retrieval import FaqIndex, RetrievalResponder
from intents.types import Answer, FaqDocument, Turn
from tests.intents.generation.conftest import HashingEmbedder, ScriptedGenerator, words_of

DEMO_FAQ_ZH = {
    e["question"]: e["answer"]
    for e in json.loads(
        (Path(__file__).parents[3] / "chatbot" / "knowledge" / "demo_faq_zh.json").read_text(encoding="utf-8")
    )
}
DEMO_FAQ = {
    e["question"]: e["answer"]
    for e in json.loads((Path(__file__).parents[3] / "chatbot" / "knowledge" / "demo_faq.json").read_text())
}

# The six contradictions the demo told customers (issue 14), with the question asked and the entry cited.
CONTRADICTIONS = [
    (
        "Can I add another cushion to the order I placed?",
        "Can I add an item to an order I already placed?",
        "Yes, you can add another cushion to your order.",
    ),
    ("When will I get my money back?", "When will I get my refund?", "The money will be returned immediately."),
    (
        "How do I wash my wool blanket?",
        "How do I care for a wool throw?",
        "Wool blankets are made of cotton. You can use a dryer instead.",
    ),
    (
        "Can I use the lamp from the EU site in my UK socket?",
        "Which plug do your lamps have?",
        "Yes, the lamp from the EU site can be used in your UK socket.",
    ),
    (
        "Will I pay customs duty on my order?",
        "Will I have to pay customs duties?",
        "No customs duty, and we accept all major currencies including USD, JPY.",
    ),
    ("Can my pan go in water?", "Is your kitchenware dishwasher safe?", "The pan will melt when exposed to water."),
]


def responder_citing(
    faq_question: str, reply: str, *, verifier: Verifier | None
) -> tuple[GeneratingResponder, ScriptedGenerator]:
    """A responder whose gate cites exactly this FAQ entry, and a model that says `reply`."""
    embedder = HashingEmbedder()
    document = FaqDocument(1, faq_question, DEMO_FAQ[faq_question])
    retrieval = RetrievalResponder(
        embedder, FaqIndex.build([document], embedder), policy=GatePolicy(answer_threshold=-1)
    )
    generator = ScriptedGenerator(words_of(reply))
    responder = GeneratingResponder(retrieval, generator, min_passage_similarity=0, verifier=verifier)
    return responder, generator


def run(responder: GeneratingResponder, question: str) -> tuple[list[str], Answer]:
    pieces = list(responder.answer([Turn("customer", question)]))
    final = pieces[-1]
    assert isinstance(final, Answer)
    return [str(piece) for piece in pieces[:-1]], final


@pytest.mark.parametrize(("question", "faq_question", "contradiction"), CONTRADICTIONS)
def test_a_quoted_contradiction_replayed_as_model_output_never_reaches_the_widget(
    question: str, faq_question: str, contradiction: str
) -> None:
    responder, _ = responder_citing(faq_question, contradiction, verifier=Verifier())
    streamed, final = run(responder, question)
    shown = "".join(streamed)
    for text in (shown, final.text):
        assert contradiction not in text
        assert all(sentence.strip() not in text for sentence in contradiction.split(". "))
    assert final.text == DEMO_FAQ[faq_question]  # nothing of the reply was shown, so the FAQ answer is
    assert shown == final.text
    assert "dropped" in final.reason


@pytest.mark.parametrize(("question", "faq_question", "contradiction"), CONTRADICTIONS)
def test_without_the_verifier_the_same_contradiction_would_be_shown(
    question: str, faq_question: str, contradiction: str
) -> None:
    """The test above can fail: without the verifier these replies pass the facts guard."""
    responder, _ = responder_citing(faq_question, contradiction, verifier=None)
    streamed, _ = run(responder, question)
    assert contradiction.split(". ")[0].rstrip(".") in "".join(streamed)


def test_a_streamed_reply_never_shows_a_sentence_that_is_later_dropped() -> None:
    faq_question = "Can I add an item to an order I already placed?"
    reply = (
        "We can't add items to an order once it has been placed. "
        "Yes, you can add a cushion by calling us. "
        "You can place a second order."
    )
    responder, _ = responder_citing(faq_question, reply, verifier=Verifier())
    streamed, final = run(responder, "can I add a cushion to my order?")
    assert "".join(streamed) == final.text
    assert final.text == "We can't add items to an order once it has been placed. You can place a second order."
    assert "cushion" not in "".join(streamed)
    assert final.model_version.startswith("scripted-llm+")


def test_supported_sentences_wait_until_one_carries_the_key_sentence() -> None:
    passage = Passage(
        "can I add an item to my order?",
        "Can I add an item to an order I already placed?",
        DEMO_FAQ["Can I add an item to an order I already placed?"],
    )
    verifier = Verifier()
    stream = VerifiedStream(verifier, passage, verifier.key_sentence(passage))
    assert stream.feed("Thanks for your question! ") == ""  # kept, but says nothing yet: held
    released = stream.feed("We can't add items to an order once it has been placed. ")
    assert released == "Thanks for your question! We can't add items to an order once it has been placed."
    assert stream.carried


def test_a_reply_that_never_carries_the_key_is_replaced_by_the_faq_answer() -> None:
    faq_question = "When will I get my refund?"
    responder, _ = responder_citing(faq_question, "Thanks for reaching out! I hope this helps.", verifier=Verifier())
    streamed, final = run(responder, "when do I get my money?")
    assert final.text == DEMO_FAQ[faq_question] == "".join(streamed)
    assert "did not carry" in final.reason


@pytest.mark.parametrize(
    ("sentence", "supported"),
    [
        ("We can't add items to an order once it has been placed.", True),
        ("Yes, you can add items to your order.", False),  # opens with yes; the passage says no
        ("You can add items to an order once it has been placed.", False),  # affirms what the passage negates
        ("You can place a second order.", True),
        ("You can place a second order for free.", False),  # "free": a claim the passage lacks
        ("You can only place one order.", False),
        ("Thank you for your question!", True),  # no claim
    ],
)
def test_polarity_and_claims_are_checked_against_the_passage(sentence: str, supported: bool) -> None:
    faq_question = "Can I add an item to an order I already placed?"
    passage = Passage("can I add a rug to my order?", faq_question, DEMO_FAQ[faq_question])
    assert Verifier().check(sentence, passage).supported is supported


def test_numbers_links_and_emails_the_passage_lacks_are_unsupported() -> None:
    faq_question = "When will I get my refund?"
    passage = Passage("refund when?", faq_question, DEMO_FAQ[faq_question])
    verifier = Verifier()
    assert not verifier.check("We refund you within 3 business days.", passage).supported
    assert not verifier.check("Write to refunds@example.com for your refund.", passage).supported
    assert verifier.check("We refund you within 5\N{EN DASH}7 business days.", passage).supported


@pytest.mark.parametrize(
    ("question", "faq_question", "opening"),
    [
        ("can I add a rug to the order I placed?", "Can I add an item to an order I already placed?", "No. "),
        ("do you match other shops' prices?", "Do you price match?", "No. "),
        ("Will I pay customs on my order?", "Will I have to pay customs duties?", ""),  # the answer opens with "No."
        ("How long does delivery take to the UK?", "How long does delivery take to the UK?", ""),  # not yes/no
    ],
)
def test_the_lead_in_opens_a_yes_no_answer_only_where_the_passage_is_clear(
    question: str, faq_question: str, opening: str
) -> None:
    assert lead_in(Passage(question, faq_question, DEMO_FAQ[faq_question])) == opening


@pytest.mark.parametrize(
    ("question", "faq_question", "opens"),
    [
        ("do you sell gift cards?", "Do you sell gift cards?", "Yes, we sell"),
        # the answer's "Yes," was written for its own question: an amount, a place or a day the passage
        # does not name may have another answer
        ("can I get a \N{EURO SIGN}300 gift card?", "Do you sell gift cards?", "We sell"),
        ("is VAT charged at the Dutch rate if I live in France?", "Do your prices include VAT?", "All prices"),
        ("can I get express delivery on a sunday?", "Do you offer express delivery?", "Express delivery"),
        # "interest-free" says there is no interest
        ("is there interest with Klarna?", "Can I pay later or in instalments?", "With Klarna"),
    ],
)
def test_the_faq_answer_keeps_its_own_yes_only_for_a_question_that_asks_nothing_beyond_it(
    question: str, faq_question: str, opens: str
) -> None:
    document = FaqDocument(1, faq_question, DEMO_FAQ[faq_question])
    assert faq_answer_for(question, document).startswith(opens)


@pytest.mark.parametrize(
    ("question", "faq_question", "keeps_its_yes"),
    [
        ("能发加急吗", "可以发加急快递吗？", True),
        ("能寄到快递柜吗？", "可以寄到自提点或快递柜吗？", True),
        ("你们有实体店吗", "有实体店吗？", True),
        # a day, a place, an amount the passage does not name: the answer may be no
        ("周日能送到吗", "可以发加急快递吗？", False),
        ("西班牙能寄到快递柜吗", "可以寄到自提点或快递柜吗？", False),
        ("礼拜一去阿姆斯特丹的店能逛吗", "有实体店吗？", False),
        ("买了70欧用券减到了58欧，还包邮吗？", "有包邮吗？", False),
        # not a yes/no question: an opening yes answers nothing asked
        ("实体店在哪里", "有实体店吗？", False),
    ],
)
def test_a_chinese_faq_answer_keeps_its_own_yes_only_for_a_yes_no_question_it_fully_answers(
    question: str, faq_question: str, keeps_its_yes: bool
) -> None:
    answer = DEMO_FAQ_ZH[faq_question]
    reply = chinese_faq_answer_for(question, FaqDocument(1, faq_question, answer))
    assert answer.startswith(("\u53ef\u4ee5", "\u6709\u7684"))  # 可以, 有的
    assert (reply == answer) is keeps_its_yes
    assert answer.endswith(reply)  # only the opening is ever dropped


def test_a_phrasing_of_the_entry_that_asks_the_opposite_does_not_keep_its_yes() -> None:
    answer = "Yes, returns of parcels are free within the EU and UK using our prepaid label."
    document = FaqDocument(1, "Are returns free?", answer, ("Do I have to pay for returns?",))
    reply = faq_answer_for("do I have to pay for my return?", document)
    assert reply == "Returns of parcels are free within the EU and UK using our prepaid label."
    zh = FaqDocument(
        1,
        "\u9000\u8d27\u514d\u8d39\u5417\uff1f",
        "\u662f\u7684\uff0c\u9000\u8d27\u514d\u8d39\u3002",
        ("\u9000\u8d27\u8981\u81ea\u5df1\u4ed8\u90ae\u8d39\u5417",),
    )
    assert (
        chinese_faq_answer_for("\u9000\u8d27\u8981\u81ea\u5df1\u4ed8\u90ae\u8d39\u5417", zh)
        == "\u9000\u8d27\u514d\u8d39\u3002"
    )


def test_an_x_free_passage_answers_no_to_a_question_about_x() -> None:
    passage = Passage("is there interest?", "Can I pay later?", "You can pay in 3 interest-free instalments.")
    assert passage.stance() == "no"
    assert not Verifier().check("Yes, there is interest.", passage).supported


def test_a_reply_that_repeats_its_instructions_is_never_shown() -> None:
    passage = Passage("returns?", "Are returns free?", DEMO_FAQ["Are returns free?"])
    verifier = Verifier()
    stream = VerifiedStream(verifier, passage, verifier.key_sentence(passage), leaks=lambda text: "SECRET" in text)
    assert stream.feed("Returns of parcels are free within the EU and UK. ") != ""
    assert stream.feed("The SECRET words are here. ") == ""
    assert stream.leaked
