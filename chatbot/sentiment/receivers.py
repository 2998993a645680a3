"""Scoring a customer message's sentiment once it is stored, per settings.CHATBOT_DISPATCH: on an
`analytics` worker (celery), on a thread of this process (inprocess) or right here (inline).
Never on the reply path: the customer's answer does not wait for it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from chatbot.conversations.models import Message
from chatbot.conversations.signals import customer_message_stored
from chatbot.replies.dispatch import task_dispatch


def sentiment_dispatch(message_id: int) -> None:
    """Queue the scoring of a customer message. Call after the message is committed. A failure
    leaves the message unscored; `manage.py sentiment backfill` scores it later."""
    task_dispatch(
        "chatbot.sentiment.tasks.message_sentiment_score",
        message_id,
        what="sentiment",
        if_lost="`manage.py sentiment backfill` scores it later",
    )


@receiver(customer_message_stored, dispatch_uid="sentiment.customer_message_stored")
def _score(sender: Any, *, message: Message, **_: Any) -> None:
    sentiment_dispatch(message.pk)
