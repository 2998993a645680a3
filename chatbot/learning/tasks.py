"""Celery tasks of the learning loop: thin adapters, on the `analytics` queue (never the reply path).

Acknowledged when taken, not when done: a retraining run takes longer than the broker's
visibility timeout, and a run whose worker died is failed by its missing heartbeat
(`services._close_abandoned_runs`) rather than started twice."""

from __future__ import annotations

from celery import shared_task

from chatbot.learning.services import training_run_execute, training_run_nightly


@shared_task(name="learning.retrain", acks_late=False, ignore_result=True)
def retrain(run_id: int) -> None:
    training_run_execute(run_id)


@shared_task(name="learning.nightly", acks_late=False, ignore_result=True)
def nightly() -> None:
    training_run_nightly()
