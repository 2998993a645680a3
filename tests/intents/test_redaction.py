"""Personal data is replaced in free text; order numbers, dates, prices and other numbers are not."""

from __future__ import annotations

import time

import pytest

from intents.redaction import Finding, find_personal_data, luhn_valid, redact


def with_check_digit(body: str) -> str:
    """`body` plus the digit that makes it pass the Luhn check (computed here, independently)."""
    for check in "0123456789":
        digits = [int(c) for c in reversed(body + check)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe@example.com please", "write to [email] please"),
        ("JANE_DOE+orders@Mail.Example.co.uk", "[email]"),
        ("<jan@example.org>, bob@example.net.", "<[email]>, [email]."),
        ("mailto:support@shop-example.com?subject=hi", "mailto:[email]?subject=hi"),
        ("renée.lefèvre@exemple.fr", "[email]"),
        ("jane.doe.1987@example.com", "[email]"),
        # Percent-encoded, as a page URL holds it after a form was sent with GET.
        (
            "https://shop.example.com/account?email=jane.doe%40example.com&step=2",
            "https://shop.example.com/account?email=[email]&step=2",
        ),
        ("100%40 off, 50%40offers", "100%40 off, 50%40offers"),
    ],
)
def test_email_addresses_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["user@localhost", "@channel", "price@2x", "a@b", "email me at jane at example dot com"],
)
def test_things_that_are_not_email_addresses_stay(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +44 20 7946 0958 today", "call [phone] today"),
        ("+442079460958", "[phone]"),
        ("+1 (555) 123-4567.", "[phone]."),
        ("+33 6 12 34 56 78", "[phone]"),
        ("+49 30 12345678", "[phone]"),
        ("+44 (0) 20 7946 0958", "[phone]"),
        ("my number is (555) 123-4567", "my number is [phone]"),
        ("(020) 7946 0958", "[phone]"),
        ("020 7946 0958", "[phone]"),
        ("07700 900123", "[phone]"),
        ("07700900123", "[phone]"),
        ("555-123-4567", "[phone]"),
        ("555.123.4567", "[phone]"),
        ("555 123 4567", "[phone]"),
        ("1-800-555-0199", "[phone]"),
        ("06 12 34 56 78", "[phone]"),
        ("0044 20 7946 0958", "[phone]"),
        ("ring 555-1234 after six", "ring [phone] after six"),
        ("Tel: 07700 900123, or mail j@x.io", "Tel: [phone], or mail [email]"),
        ("numbers: 020 7946 0958 and +44 20 7946 0000", "numbers: [phone] and [phone]"),
    ],
)
def test_phone_numbers_in_international_and_national_formats_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my order LL-2024-000123 has not arrived",
        "order #2024-000123",
        "order 123456",
        "ref AB-123-456-7890",
        "invoice INV2024000123",
        "delivered on 2024-01-15",
        "delivered on 15.01.2024 10:30",
        "on 15/01/2024 at 10:30",
        "2024-01-15 10:30:00",
        "it costs $1,299.99",
        "€49.90 or 1.299,00 €",
        "42 items, 12345 points",
        "pi is 3.14159265",
        "server 192.168.1.100",
        "version 1.2.3",
        "5551234567",
        "sku 12-34",
        "1234 5678 9012 3456",
        "4111 1111 1111 1112",
        "10:30-11:45",
    ],
)
def test_order_numbers_dates_prices_and_other_numbers_stay(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 thanks", "card [card] thanks"),
        ("4111-1111-1111-1111", "[card]"),
        ("4111111111111111", "[card]"),
        ("5555 5555 5555 4444", "[card]"),
        ("amex 378282246310005", "amex [card]"),
        ("3782 822463 10005", "[card]"),
        ("6011111111111117", "[card]"),
        ("4222222222222", "[card]"),
        ("4111 1111 1111 1111 123", "[card] 123"),
        ("4111-1111-1111-1111, exp 12/27", "[card], exp 12/27"),
    ],
)
def test_luhn_valid_card_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("length", [13, 14, 15, 16, 17, 18, 19])
def test_card_numbers_of_every_length_are_redacted(length: int) -> None:
    number = with_check_digit("4" + "7" * (length - 2))
    assert len(number) == length
    grouped = " ".join(number[i : i + 4] for i in range(0, length, 4))
    assert redact(f"pay with {number}") == "pay with [card]"
    assert redact(f"pay with {grouped}") == "pay with [card]"


def test_a_luhn_invalid_sixteen_digit_number_is_not_a_card() -> None:
    valid = with_check_digit("453201511283036")
    invalid = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert not luhn_valid(invalid)
    assert redact(f"number {invalid}") == f"number {invalid}"
    assert redact(f"number {valid}") == "number [card]"


def test_cards_and_a_phone_number_in_one_run_of_digits_are_each_found() -> None:
    text = "4111 1111 1111 1111 5555 5555 5555 4444 020 7946 0958"
    assert redact(text) == "[card] [card] [phone]"
    assert redact("020 7946 0958 4111111111111111") == "[phone] [card]"


def test_numbers_glued_to_words_are_not_phone_numbers() -> None:
    assert redact("tracking JD0207946095812") == "tracking JD0207946095812"
    assert redact("build 020794609581abc") == "build 020794609581abc"


def test_the_text_around_personal_data_is_kept_exactly() -> None:
    text = "Hi!\nI'm jane@example.com,\tcall (555) 123-4567 or pay 4111 1111 1111 1111 (order LL-2024-000123)."
    assert redact(text) == "Hi!\nI'm [email],\tcall [phone] or pay [card] (order LL-2024-000123)."


def test_findings_say_what_was_found_and_where() -> None:
    text = "a@b.com 020 7946 0958 4111111111111111"
    assert find_personal_data(text) == [
        Finding("email", 0, 7),
        Finding("phone", 8, 21),
        Finding("card", 22, 38),
    ]


def test_text_without_personal_data_is_returned_unchanged() -> None:
    text = "Where is my parcel? It was due on Monday."
    assert redact(text) is text
    assert redact("") == ""


def test_redaction_time_grows_linearly_on_long_and_adversarial_text() -> None:
    """Four times the text takes about four times as long (a quadratic scan would take sixteen).
    A ratio, not a time limit, so a busy machine does not fail it."""
    patterns = [
        "where is my order LL-2024-000123, it was 49.90 ",
        "a@",
        "1 ",
        "1-",
        "x" * 50 + "@",
    ]

    def seconds(text: str) -> float:
        best = float("inf")
        for _ in range(2):  # the better of two runs: less noise from other processes
            started = time.perf_counter()
            redact(text)
            best = min(best, time.perf_counter() - started)
        return best

    for pattern in patterns:
        repeats = max(1, 20_000 // len(pattern))
        small, large = seconds(pattern * repeats + "x"), seconds(pattern * repeats * 4 + "x")
        assert large < 8 * small + 0.05, f"{pattern!r}: {small:.3f} s, then {large:.3f} s for 4x the text"
