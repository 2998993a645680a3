"""Celery tasks of analytics: thin adapters over the services of the same name, routed to the
`analytics` queue (CPU workers, off the reply path)."""

from __future__ import annotations

from celery import shared_task

from chatbot.analytics import services


@shared_task(name="analytics.hot_topics_compute", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def hot_topics_compute(report_id: int) -> None:
    # Idempotent: a report that is no longer pending is left as it is.
    services.hot_topics_compute(report_id=report_id)


@shared_task(name="analytics.hot_topics_refresh_all", acks_late=True, ignore_result=True)
def hot_topics_refresh_all() -> None:
    # Celery beat, hourly: requests the reports, each computed by its own hot_topics_compute task.
    services.hot_topics_refresh_all()
