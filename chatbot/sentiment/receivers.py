"""Scoring a customer message's sentiment once it is stored, per settings.CHATBOT_DISPATCH: on an
`analytics` worker (celery), on a thread of this process (inprocess) or right here (inline).
Never on the reply path: the customer's answer does not wait for it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from chatbot.conversations.models import Message
from chatbot.conversations.signals import customer_messages_stored
from chatbot.replies.dispatch import task_dispatch


def sentiment_dispatch(message_ids: list[int]) -> None:
    """Queue the scoring of customer messages, one task for them all (they are scored as one
    batch). Call after the messages are committed. A failure leaves them unscored; `manage.py
    sentiment backfill` scores them later."""
    task_dispatch(
        "chatbot.sentiment.tasks.messages_sentiment_score",
        message_ids,
        what="sentiment",
        if_lost="`manage.py sentiment backfill` scores it later",
    )


@receiver(customer_messages_stored, dispatch_uid="sentiment.customer_messages_stored")
def _score(sender: Any, *, messages: list[Message], **_: Any) -> None:
    sentiment_dispatch([message.pk for message in messages])
