"""The Celery application, configured from Django settings (the CELERY_ names).

Workers for answers: `celery -A chatbot worker -Q inference --concurrency 1` (one process per GPU).
"""

import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init
from django.conf import settings

from chatbot.garbage_collector import garbage_collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")


class CelerySettings(Mapping[str, Any]):
    """The CELERY_ names of Django's settings, read once, when Celery first asks for its
    configuration (Django's settings are set up by then).

    Celery looks up several settings each time a task is queued. Looked up in Django's settings
    object, each went through Celery's and Django's attribute lookups, about a quarter of the CPU
    that queuing a task cost; in a dict it is one lookup (bench/README.md has the measurement).
    The settings are read from the environment when the process starts, so the copy does not go stale."""

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any]:
        if self._values is None:
            self._values = {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")}
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


app = Celery("chatbot")
app.config_from_object(CelerySettings(), namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _load_models_once(**_: object) -> None:
    # Each worker process loads the answering models when it starts, not on its first
    # customer's question, so no customer waits for a model load. Imported here: this module is
    # imported with the settings, before Django's apps (and so the models) are ready.
    from chatbot.replies.loading import models_warm_up

    models_warm_up()
    # The models loaded, the collector stops scanning them (chatbot/garbage_collector.py).
    garbage_collector_tune(settings.CHATBOT_GC_THRESHOLDS)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_personal_data(logger: logging.Logger, **_: object) -> None:
    # Celery replaces the root logger's handlers with its own: they get the same filter as the
    # web process's (settings.LOGGING), so a worker's log holds no e-mail or card number either.
    from chatbot.log_redaction import PersonalDataFilter

    for handler in logger.handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
