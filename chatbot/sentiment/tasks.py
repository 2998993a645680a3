"""Celery tasks of sentiment: thin adapters over the services of the same name, routed to the
`analytics` queue (off the reply path)."""

from __future__ import annotations

from celery import shared_task

from chatbot.sentiment import services


@shared_task(name="sentiment.message_sentiment_score", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def message_sentiment_score(message_id: int) -> None:
    # Idempotent: scoring a message again stores the same figures. Still registered for tasks
    # queued before `messages_sentiment_score` replaced it.
    services.message_sentiment_score(message_id)


@shared_task(name="sentiment.messages_sentiment_score", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def messages_sentiment_score(message_ids: list[int]) -> None:
    """The messages one commit stored (a group commit stores many), scored as one batch."""
    services.messages_sentiment_score(message_ids=message_ids)
