"""Queuing a delivery's attempt, now or after a delay, per settings.CHATBOT_DISPATCH:

- `celery`: the task `webhooks.delivery_attempt` with a countdown (Celery beat's
  `webhooks.deliveries_retry_due` catches any that got lost);
- `inprocess` (the embedded demo): a timer thread of this process, then the task's body on a worker
  thread (a restarted web process queues the open deliveries again: `webhook_deliveries_resume`);
- `inline` (tests and scripts): the first attempt right here; retries when the due sweep runs.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.utils.module_loading import import_string

from chatbot.replies.dispatch import task_dispatch

logger = logging.getLogger(__name__)

TASK = "chatbot.webhooks.tasks.webhook_delivery_attempt"
IF_LOST = "the due sweep (`webhooks retry-due`) attempts it"


def delivery_dispatch(delivery_id: int, *, delay_s: float = 0.0) -> None:
    """Attempt the delivery `delivery_id` in `delay_s` seconds. Call after it is committed."""
    if delay_s <= 0:
        task_dispatch(TASK, delivery_id, what="webhook", if_lost=IF_LOST)
        return
    mode = settings.CHATBOT_DISPATCH
    if mode == "celery":
        try:
            import_string(TASK).apply_async((delivery_id,), countdown=delay_s)
        except Exception:
            logger.warning("could not queue the retry of webhook delivery %s; %s", delivery_id, IF_LOST, exc_info=True)
    elif mode == "inprocess":
        timer = threading.Timer(
            delay_s, task_dispatch, args=(TASK, delivery_id), kwargs={"what": "webhook", "if_lost": IF_LOST}
        )
        timer.daemon = True
        timer.name = f"webhook-retry-{delivery_id}"
        timer.start()
