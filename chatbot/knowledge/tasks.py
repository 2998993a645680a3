"""Celery tasks of the FAQ store: thin adapters, routed to the `inference` queue (the workers that
have the embedding model loaded)."""

from __future__ import annotations

from celery import shared_task

from chatbot.knowledge.dispatch import faq_refresh


@shared_task(name="knowledge.faq_embed", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def faq_embed(site_id: int) -> None:
    # Idempotent: only entries whose text changed since their embedding are embedded again.
    faq_refresh(site_id=site_id)
