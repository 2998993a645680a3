"""The Celery application, configured from Django settings (the CELERY_ names).

Workers for answers: `celery -A chatbot worker -Q inference --concurrency 1` (one process per GPU).
"""

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init
from django.conf import settings

from chatbot.garbage_collector import garbage_collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")

app = Celery("chatbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
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
