"""Celery tasks of sentiment: thin adapters over the services of the same name, routed to the
`analytics` queue (off the reply path)."""

from __future__ import annotations

from celery import shared_task

from chatbot.sentiment import services


@shared_task(name="sentiment.message_sentiment_score", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def message_sentiment_score(message_id: int) -> None:
    # Idempotent: scoring a message again stores the same figures.
    services.message_sentiment_score(message_id)
