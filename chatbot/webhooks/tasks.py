"""Celery tasks of webhooks: thin adapters over the services of the same name (default queue)."""

from __future__ import annotations

from celery import shared_task

from chatbot.webhooks import services


@shared_task(name="webhooks.delivery_attempt", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def webhook_delivery_attempt(delivery_id: int) -> None:
    # A second run of the same attempt does nothing: the first one claimed the delivery.
    services.webhook_delivery_attempt(delivery_id)


@shared_task(name="webhooks.deliveries_retry_due", ignore_result=True)
def webhook_deliveries_retry_due() -> None:
    services.webhook_deliveries_retry_due()


@shared_task(name="webhooks.deliveries_prune", ignore_result=True)
def webhook_deliveries_prune() -> None:
    services.webhook_deliveries_prune()
