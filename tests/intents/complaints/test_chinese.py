"""Chinese complaints: detection, category and severity by the same rules as English."""

from __future__ import annotations

import pytest

from intents.complaints.chinese import chinese_category
from intents.complaints.classifier import ComplaintClassifier, ScoredText
from intents.complaints.cues import is_complaint, shouting
from intents.complaints.models import CategoryPrediction
from intents.complaints.severity import complaint_severity


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("我的包裹十天了还没到", "delivery"),
        ("为什么扣了我两次钱", "billing"),
        ("退款到现在还没到账", "refund"),
        ("盘子收到的时候碎了两个", "lost_or_damaged_item"),
        ("台灯用了两天就不亮了", "product_defect"),
        ("账号登录不了，验证码也收不到", "account_access"),
        ("APP闪退，打不开", "website_or_app"),
        ("客服态度太差了", "rude_or_unhelpful_service"),
        ("等人工等了半个小时", "waiting_time"),
        ("太失望了", "other"),
    ],
)
def test_a_chinese_complaint_gets_its_category_from_its_words(text: str, category: str) -> None:
    assert chinese_category(text)[0] == category


def test_a_complaint_cue_makes_a_chinese_message_a_complaint_whatever_its_tone() -> None:
    assert is_complaint("我要投诉", "neutral")
    assert is_complaint("为什么发错货了", "neutral")
    assert not is_complaint("怎么退货？", "neutral")


@pytest.mark.parametrize(
    ("text", "severity", "reason"),
    [
        ("你们这是欺诈，我要找律师", "critical", "mentions legal action"),
        ("再不处理我就去消协投诉了", "critical", "mentions legal action"),
        ("插头一插上就冒烟，太危险了", "critical", "mentions a safety risk"),
        ("包裹还没到", "low", "mildly negative (-0.30)"),
    ],
)
def test_legal_and_safety_cues_in_chinese_are_critical(text: str, severity: str, reason: str) -> None:
    assert complaint_severity(text, -0.3) == (severity, reason)


def test_leaving_repeating_and_shouting_raise_a_chinese_complaint_like_an_english_one() -> None:
    severity, reason = complaint_severity("第三次发错货了，这是最后一次在你们这买！！！", -0.5)
    assert severity == "high"
    assert reason == "negative (-0.50); threatens to leave; repeated or ongoing; shouting"
    assert shouting("气死我了！！！")


class _NoEmbedding:
    """The category model must not be asked about Chinese text (it reads English)."""

    name = "none"

    def predict(self, vectors: object, among: object = None) -> list[CategoryPrediction]:
        raise AssertionError("a Chinese complaint was embedded")


class _NoEmbedder:
    model_name = "none"

    def encode(self, texts: object) -> object:
        raise AssertionError("a Chinese complaint was embedded")


def test_the_classifier_reads_a_chinese_complaint_by_its_words() -> None:
    classifier = ComplaintClassifier(_NoEmbedder(), _NoEmbedding())  # type: ignore[arg-type]
    (complaint,) = classifier.classify([ScoredText("退款拖了一个月还没到账，我要投诉", -0.7, "negative")])
    assert (complaint.is_complaint, complaint.category, complaint.severity) == (True, "refund", "high")
