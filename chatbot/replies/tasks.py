"""Celery tasks of the reply engine: thin adapters over the services of the same name, routed to
the `inference` queue (the workers that have the answering models loaded)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from chatbot.replies import faq_index, services

REPLY_TASK_OPTIONS: dict[str, Any] = {
    # Acknowledged when done: a worker killed mid-reply leaves the task to be handed out again
    # (CELERY_VISIBILITY_TIMEOUT), and a pool process killed makes it go back at once.
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    # One run answers the conversation's waiting messages, each within CHATBOT_REPLY_TIME_LIMIT_S;
    # a run stuck where it cannot check the time is stopped, and the sweeper queues it again.
    "time_limit": 10 * settings.CHATBOT_REPLY_TIME_LIMIT_S,
}


@shared_task(name="replies.reply_generate", **REPLY_TASK_OPTIONS)
def reply_generate(message_id: int) -> None:
    # Idempotent: the reply is stored at most once (a one-to-one key on the customer message),
    # so a task redelivered after a worker died answers only if the first run did not.
    services.reply_generate(message_id=message_id)


@shared_task(name="replies.replies_generate", **REPLY_TASK_OPTIONS)
def replies_generate(message_ids: list[int]) -> None:
    # The replies to messages stored together (`dispatch.replies_dispatch`), one after another,
    # each as `reply_generate` answers it (so just as idempotent). One that fails is logged and
    # left to the sweeper; the others are still answered.
    services.replies_generate(message_ids=message_ids)


@shared_task(name="replies.faq_refresh", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def faq_refresh(site_id: int) -> None:
    # Idempotent: only entries whose text changed since their embedding are embedded again.
    faq_index.faq_refresh(site_id=site_id)
