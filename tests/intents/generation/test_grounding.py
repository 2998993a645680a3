"""The grounding guard: a generated reply keeps only the checkable facts its sources state, and
while it streams, an unsupported fact is never released, whatever the pieces it arrives in."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from intents.generation.grounding import StreamGuard, extract_facts, guard_reply, unsupported_facts
from tests.intents.generation.conftest import SHOP_FAQ

# What the responder hands the guard: each cited entry's question and answer.
SOURCES = [f"{doc.question}\n{doc.answer}" for doc in SHOP_FAQ] + [
    "Where is my order?\nYou can track order {{Order Number}} on the {{Order Tracking}} page."
]
FALLBACK = SHOP_FAQ[0].answer


@pytest.mark.parametrize(
    ("text", "kind", "fact"),
    [
        ("Start at https://lumenloom.shop/returns today", "url", "https://lumenloom.shop/returns"),
        ("See www.lumenloom.shop/help for more", "url", "www.lumenloom.shop/help"),
        ("Our site lumenloom.shop has it", "url", "lumenloom.shop"),
        ("Write to help@lumenloom.shop please", "email", "help@lumenloom.shop"),
        ("Call +1 (555) 010-0199 now", "phone", "+1 (555) 010-0199"),
        ("Reference #48213 is packed", "order_number", "#48213"),
        ("Ticket LL-20931 is open", "order_number", "LL-20931"),
        ("It costs 4.95 EUR", "number", "4.95"),
        ("Within 30 days", "number", "30"),
        ("Track {{Order Number}} here", "placeholder", "{{Order Number}}"),
    ],
)
def test_each_kind_of_checkable_fact_is_found(text: str, kind: str, fact: str) -> None:
    assert [(f.kind, f.text) for f in extract_facts(text)] == [(kind, fact)]


def test_an_email_address_is_not_also_counted_as_a_link_or_its_digits_as_numbers() -> None:
    facts = extract_facts("Mail team2024@lumenloom.shop or visit https://lumenloom.shop/returns.")
    assert [(f.kind, f.text) for f in facts] == [
        ("email", "team2024@lumenloom.shop"),
        ("url", "https://lumenloom.shop/returns"),  # without the sentence's full stop
    ]


def test_a_phone_number_stops_at_the_end_of_its_sentence() -> None:
    facts = extract_facts("Call +1 555 010 0199. 30 days are allowed.\n555 010 0199\n42")
    assert [(f.kind, f.text) for f in facts] == [
        ("phone", "+1 555 010 0199"),
        ("number", "30"),
        ("phone", "555 010 0199"),
        ("number", "42"),
    ]


@pytest.mark.parametrize(
    "reply",
    [
        "Sure, just call us on +1 555 010 0199 from Monday to Friday.",
        "Sure, just call us on +1-555-010-0199 from Monday to Friday.",
        "You can start your return at https://lumenloom.shop/returns.",
        "You can start your return at lumenloom.shop/returns within 30 days.",
        "Write to HELP@lumenloom.shop and we refund you within 5 working days.",
        "You can track order {{Order Number}} online.",
    ],
)
def test_a_fact_the_sources_state_is_kept_however_it_is_punctuated(reply: str) -> None:
    assert unsupported_facts(reply, SOURCES) == []
    result = guard_reply(reply, SOURCES, FALLBACK)
    assert (result.text, result.fell_back, result.removed, result.reason) == (reply, False, (), "")


def test_a_sentence_with_an_invented_email_is_dropped_and_the_rest_is_kept() -> None:
    kept = "You can return any item within 30 days of delivery, and we refund you within 5 working days."
    result = guard_reply(f"{kept} For anything else, mail returns@lumen-help.com.", SOURCES, FALLBACK)
    assert result.text == kept
    assert not result.fell_back
    assert [(f.kind, f.text) for f in result.removed] == [("email", "returns@lumen-help.com")]
    assert result.reason == "dropped: unsupported email"


@pytest.mark.parametrize(
    "reply",
    [
        "You can return any item within 45 days of delivery.",  # a deadline the FAQ does not give
        "Shipping costs 2.99 EUR and parcels arrive in 2 to 4 working days.",  # a price it does not give
    ],
)
def test_an_invented_number_makes_the_reply_fall_back_to_the_faq_answer(reply: str) -> None:
    result = guard_reply(reply, SOURCES, FALLBACK)
    assert result.text == FALLBACK
    assert result.fell_back
    assert "number" in result.reason and result.reason.startswith("fell back")


def test_a_reply_that_loses_most_of_its_text_falls_back() -> None:
    result = guard_reply("Mail returns@lumen-help.com or call +44 20 7946 0958 today. Thanks!", SOURCES, FALLBACK)
    assert result.text == FALLBACK
    assert result.fell_back
    assert {f.kind for f in result.removed} == {"email", "phone"}


@pytest.mark.parametrize("reply", ["", "   \n "])
def test_an_empty_reply_falls_back(reply: str) -> None:
    result = guard_reply(reply, SOURCES, FALLBACK)
    assert (result.text, result.fell_back) == (FALLBACK, True)


# StreamGuard: the same reply, cut into pieces the way a generator may send it.

# Close to SmolLM2's pre-tokenizer: words with their leading space, each digit on its own,
# punctuation runs, whitespace.
_PRETOKEN = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z]+| ?\d| ?[^\sA-Za-z\d]+|\s+(?!\S)|\s+")


def _characters(text: str) -> list[str]:
    return list(text)


def _tokens(text: str) -> list[str]:
    pieces = _PRETOKEN.findall(text)
    assert "".join(pieces) == text
    return pieces


def _random_chunks(text: str) -> list[str]:
    rng = random.Random(text)
    pieces, start = [], 0
    while start < len(text):
        end = start + rng.randint(1, 7)
        pieces.append(text[start:end])
        start = end
    return pieces


CHUNKINGS: list[Callable[[str], list[str]]] = [_characters, _tokens, _random_chunks]
CHUNKING_IDS = ["characters", "tokens", "random-chunks"]


def _released(pieces: list[str]) -> tuple[str, str]:
    """(text released while streaming, everything released including the final flush)."""
    guard = StreamGuard(SOURCES)
    during = "".join(guard.feed(piece) for piece in pieces)
    assert guard.text == "".join(pieces)
    return during, during + guard.finish()


INVENTED = {
    "phone": ("Call +44 20 7946 0958 today.", ["7946", "0958", "+44"]),
    "email": ("Write to refunds@lumen-support.com today.", ["refunds@", "lumen-support"]),
    "url": ("Go to https://lumen-returns.example.net/start today.", ["lumen-returns", "example.net"]),
    "bare-url": ("Go to lumenrefunds.com/form today.", ["lumenrefunds", ".com/form"]),
    "placeholder": ("Call {{Customer Support Phone Number}} today.", ["{{", "}}", "Customer Support Phone"]),
}


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=CHUNKING_IDS)
@pytest.mark.parametrize("kind", sorted(INVENTED))
def test_an_unsupported_fact_is_never_released_in_any_piece(kind: str, chunking: Callable[[str], list[str]]) -> None:
    sentence, fragments = INVENTED[kind]
    reply = f"Returns are free within 30 days. {sentence} We refund you within 5 working days."
    _, released = _released(chunking(reply))
    for fragment in fragments:
        assert fragment not in released
    assert released.startswith("Returns are free within 30 days. ")
    assert released.endswith("We refund you within 5 working days.")


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=CHUNKING_IDS)
def test_only_the_unsupported_placeholder_is_removed_from_a_run_of_placeholders(
    chunking: Callable[[str], list[str]],
) -> None:
    reply = "Open {{Order Tracking}}\n{{Customer Support Phone Number}} today, or {{Order Number}} page."
    _, released = _released(chunking(reply))
    assert released == "Open {{Order Tracking}}\n today, or {{Order Number}} page."


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=CHUNKING_IDS)
def test_an_invented_number_is_never_released(chunking: Callable[[str], list[str]]) -> None:
    _, released = _released(chunking("You can return any item within 45 days of delivery."))
    assert "45" not in released and "4" not in released and "5" not in released


SUPPORTED_REPLIES = [
    "Call +1 555 010 0199 or write to help@lumenloom.shop, Monday to Friday from 9 to 17.",
    "Start your return at https://lumenloom.shop/returns. You have 30 days.",
    "Call +1 (555) 010-0199. 30 days are allowed for returns, refunds take 5 working days.",
    "Shipping is 4.95 EUR,\nfree over 60 EUR; see lumenloom.shop/returns!",
    "You can track order {{Order Number}} on the {{Order Tracking}} page.",
    "No facts here, just a friendly   reply with odd  spacing\nand lines.\n",
]


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=CHUNKING_IDS)
@pytest.mark.parametrize("reply", SUPPORTED_REPLIES)
def test_a_reply_without_unsupported_facts_is_released_exactly(
    reply: str, chunking: Callable[[str], list[str]]
) -> None:
    assert unsupported_facts(reply, SOURCES) == []
    during, released = _released(chunking(reply))
    assert released == reply
    assert reply.startswith(during)


def test_text_is_released_while_it_streams_not_only_at_the_end() -> None:
    during, _ = _released(_characters("Returns are free within 30 days of delivery, no questions asked."))
    assert during.startswith("Returns are free within 30 days of delivery, no questions ")


def test_numbered_steps_state_no_facts_and_keep_their_lines() -> None:
    steps = "To cancel:\n1. Sign in to your account.\n2. Open Orders.\n3) Choose Cancel."
    assert unsupported_facts(steps, ["Cancel an order under Orders in your account."]) == []
    guarded = guard_reply(steps + "\nOr call 0800 123 4567.", ["Cancel under Orders."], "FAQ answer")
    assert guarded.text == steps and not guarded.fell_back


def test_a_number_inside_a_sentence_is_still_a_fact_even_at_the_start_of_a_line() -> None:
    assert [f.text for f in unsupported_facts("30 days to return.\nItems: 2.", ["Returns accepted."])] == ["30", "2"]
