"""Reads of customer-message sentiment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from chatbot.conversations.models import Message, Sender
from chatbot.sites.models import Site


@dataclass(frozen=True)
class SentimentPoint:
    seq: int
    score: float
    label: str
    at: datetime


def conversation_sentiment_trajectory(conversation_id: int) -> list[SentimentPoint]:
    """The scored customer messages of a conversation, in order: how the customer's mood went.
    The conversation's own `sentiment`/`sentiment_label` is where it stands now."""
    rows = (
        Message.objects.filter(conversation_id=conversation_id, sender=Sender.CUSTOMER, sentiment__isnull=False)
        .order_by("seq")
        .values_list("seq", "sentiment", "sentiment_label", "created_at")
    )
    return [SentimentPoint(seq, score, label, at) for seq, score, label, at in rows if score is not None]


def messages_unscored(*, site: Site | None = None) -> QuerySet[Message]:
    """Customer messages not scored yet (of one site, or all), oldest first."""
    messages = Message.objects.filter(sender=Sender.CUSTOMER, sentiment__isnull=True)
    if site is not None:
        messages = messages.filter(conversation__site=site)
    return messages.order_by("pk")
