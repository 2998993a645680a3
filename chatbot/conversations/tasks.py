"""Celery tasks: thin adapters over services. Routed to the `inference` queue (GPU nodes)."""

from __future__ import annotations

from celery import shared_task

from chatbot.conversations.replies import reply_generate


@shared_task(
    name="conversations.generate_reply",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def generate_reply(message_id: int) -> None:
    # Idempotent: the reply is stored at most once (a one-to-one key on the customer message),
    # so a task redelivered after a worker died answers only if the first run did not.
    reply_generate(message_id=message_id)
