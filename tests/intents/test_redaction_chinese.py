"""Chinese personal data in logs, exports and training data: mobile numbers, resident identity card
numbers and bank cards, written in Chinese text, are redacted; order numbers and dates are not."""

from __future__ import annotations

import pytest

from chatbot.log_redaction import redact_log_text
from intents.redaction import find_personal_data, luhn_valid, redact, resident_id_valid


def _luhn_card(prefix: str, length: int) -> str:
    """A card number of `length` digits starting with `prefix` that passes the Luhn check."""
    body = prefix + "3" * (length - len(prefix) - 1)
    return next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))


def _resident_id(first17: str) -> str:
    """An identity card number with the right check character for its first 17 digits."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


UNIONPAY_19 = _luhn_card("622202", 19)
UNIONPAY_16 = _luhn_card("6228", 16)
ID_X = "11010519491231002X"  # the national standard's example, check character X
ID_DIGIT = _resident_id("44030419900307123")


@pytest.mark.parametrize(
    "text",
    [
        "我的手机号13812345678，麻烦回电",
        "电话：+86 138 1234 5678",
        "打我电话+8613812345678",
        "手机 86-138-1234-5678 白天都在",
        "138-1234-5678请回电",
        "联系人王先生 199 8765 4321",
    ],
)
def test_chinese_mobile_numbers_are_redacted_in_every_usual_form(text: str) -> None:
    redacted = redact(text)
    assert "[phone]" in redacted
    assert not any(run in redacted for run in ("1234", "8765", "5678"))
    assert [f.kind for f in find_personal_data(text)] == ["phone"]


def test_the_chinese_around_a_number_is_kept_exactly() -> None:
    assert redact("我的手机号13812345678，麻烦回电") == "我的手机号[phone]，麻烦回电"
    assert redact("邮箱是li.wei@example.cn谢谢") == "邮箱是[email]谢谢"


def test_the_check_character_of_a_resident_id_is_verified() -> None:
    assert resident_id_valid(ID_X)
    assert resident_id_valid(ID_DIGIT)
    assert resident_id_valid(ID_X.lower())
    wrong = ID_DIGIT[:-1] + str((int(ID_DIGIT[-1]) + 1) % 10) if ID_DIGIT[-1] != "X" else ID_DIGIT[:-1] + "0"
    assert not resident_id_valid(wrong)
    assert not resident_id_valid(_resident_id("11010519491331002"))  # month 13


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"身份证号{ID_X}，请核实", "身份证号[id]，请核实"),
        (f"身份证：{ID_DIGIT}", "身份证：[id]"),
        (f"证件号 {ID_X[:6]} {ID_X[6:14]} {ID_X[14:]}", "证件号 [id]"),
    ],
)
def test_valid_resident_id_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_an_eighteen_digit_number_with_a_wrong_check_character_stays() -> None:
    wrong = ID_X[:-1] + "5"
    assert not resident_id_valid(wrong)
    assert redact(f"编号{wrong}") == f"编号{wrong}"


@pytest.mark.parametrize("card", [UNIONPAY_19, UNIONPAY_16])
def test_bank_card_numbers_that_pass_luhn_are_redacted_in_chinese_text(card: str) -> None:
    assert redact(f"卡号{card}，尾号{card[-4:]}") == f"卡号[card]，尾号{card[-4:]}"
    spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    assert redact(f"银行卡：{spaced}") == "银行卡：[card]"


def test_a_bank_card_number_that_fails_luhn_stays() -> None:
    bad = UNIONPAY_16[:-1] + str((int(UNIONPAY_16[-1]) + 1) % 10)
    assert redact(f"卡号{bad}") == f"卡号{bad}"


@pytest.mark.parametrize(
    "text",
    [
        "订单号LL-2024-000123还没到",
        "我在2024-01-15下的单",
        "运费€4.95，满€60包邮",
        "买了3件，一共129欧",
        "快递单号SF1234567890123",
        "预计5到10个工作日送达",
    ],
)
def test_order_numbers_dates_and_prices_in_chinese_text_stay(text: str) -> None:
    assert redact(text) == text


def test_chinese_personal_data_is_redacted_from_log_lines() -> None:
    line = f"reply failed for message: 我的手机13812345678，身份证{ID_X}，卡号{UNIONPAY_19}"
    redacted = redact_log_text(line)
    assert "13812345678" not in redacted and ID_X not in redacted and UNIONPAY_19 not in redacted
    assert redacted.endswith("我的手机[phone]，身份证[id]，卡号[card]")
