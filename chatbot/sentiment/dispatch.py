"""Scoring a customer message's sentiment after it is stored, per settings.CHATBOT_DISPATCH:
on an `analytics` worker (celery), on a thread of this process (inprocess) or right here (inline).
Never on the reply path: the customer's answer does not wait for it."""

from __future__ import annotations

from chatbot.background import background_dispatch
from chatbot.sentiment.services import message_sentiment_score


def sentiment_dispatch(message_id: int) -> None:
    """Queue the scoring of a customer message. Call after the message is committed. A failure
    leaves the message unscored; `manage.py sentiment backfill` scores it later."""
    background_dispatch(
        task="chatbot.sentiment.tasks.score_message",
        run=message_sentiment_score,
        argument=message_id,
        what="sentiment",
    )
