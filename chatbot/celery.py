"""The Celery application, configured from Django settings (the CELERY_ names).

Workers for answers: `celery -A chatbot worker -Q inference --concurrency 1` (one process per GPU).
"""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")

app = Celery("chatbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _load_models_once(**_: object) -> None:
    # Each worker process loads the answering models when it starts, not on its first
    # customer's question, so no customer waits for a model load.
    from chatbot.knowledge.answering import models_warm_up

    models_warm_up()
