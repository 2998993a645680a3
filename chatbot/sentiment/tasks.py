"""Celery tasks of sentiment: thin adapters, routed to the `analytics` queue (off the reply path)."""

from __future__ import annotations

from celery import shared_task

from chatbot.sentiment.services import message_sentiment_score


@shared_task(name="sentiment.score_message", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def score_message(message_id: int) -> None:
    # Idempotent: scoring a message again stores the same figures.
    message_sentiment_score(message_id)
