"""Celery tasks of the learning loop: thin adapters over the services of the same name, on the
`analytics` queue (never the reply path).

Acknowledged when taken, not when done: a retraining run takes longer than the broker's
visibility timeout, and a run whose worker died is failed by its missing heartbeat
(`services._close_abandoned_runs`) rather than started twice."""

from __future__ import annotations

from celery import shared_task

from chatbot.learning import services


@shared_task(name="learning.training_run_execute", acks_late=False, ignore_result=True)
def training_run_execute(run_id: int) -> None:
    services.training_run_execute(run_id)


@shared_task(name="learning.training_run_nightly", acks_late=False, ignore_result=True)
def training_run_nightly() -> None:
    services.training_run_nightly()
