"""A Chinese customer is scored in Chinese: their messages get the Chinese scorer, complaints get a
category and severity, and an upset customer is escalated as an English one is, in Chinese."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatbot.conversations.models import Sender
from chatbot.sentiment.services import chinese_scorer_cache, message_sentiment_score
from intents.languages import CHINESE
from intents.texts import text


def test_a_chinese_message_is_scored_by_the_chinese_scorer(
    say: Callable[..., Any], published: list[dict[str, Any]]
) -> None:
    chinese_scorer_cache.forget()
    (question, thanks) = say("运费多少钱？", "谢谢，问题解决了")
    assert message_sentiment_score(question.pk).sentiment_label == "neutral"  # type: ignore[union-attr]
    assert message_sentiment_score(thanks.pk).sentiment_label == "positive"  # type: ignore[union-attr]
    assert chinese_scorer_cache.loaded is not None


def test_a_chinese_complaint_is_categorised_and_a_legal_threat_is_critical(
    say: Callable[..., Any], published: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    (message,) = say("退款拖了一个月还没到账，再不处理我就去消协投诉！")
    with django_capture_on_commit_callbacks(execute=True):
        scored = message_sentiment_score(message.pk)
    assert scored is not None
    assert (scored.sentiment_label, scored.complaint_category, scored.complaint_severity) == (
        "negative",
        "refund",
        "critical",
    )
    conversation = scored.conversation
    conversation.refresh_from_db()
    assert conversation.escalated_at is not None


def test_an_upset_chinese_customer_is_handed_to_a_person_in_chinese(
    say: Callable[..., Any], published: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    (message,) = say("气死我了，第二次发错货了！！！")
    conversation = message.conversation
    conversation.language = CHINESE
    conversation.save()
    site = conversation.site
    site.escalate_on_negative_sentiment = True
    site.save()
    with django_capture_on_commit_callbacks(execute=True):
        message_sentiment_score(message.pk)
    conversation.refresh_from_db()
    assert conversation.status == "waiting_human"
    assert conversation.escalation_reason.startswith("strongly negative message")
    notice = conversation.messages.order_by("-seq").first()
    assert notice is not None and notice.sender == Sender.SYSTEM
    assert notice.text == text("sentiment_escalated", CHINESE)
