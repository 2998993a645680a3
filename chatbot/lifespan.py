"""The web process's start and stop (ASGI lifespan events; uvicorn runs with `--lifespan on`).

At start-up the process binds its server loop for realtime events, starts the reply sweeper, so a
process that serves only HTTP sweeps too, and, when it answers customers itself
(CHATBOT_DISPATCH=inprocess), loads the answering models on a thread and queues again the webhook
deliveries still open (their retry timers died with the previous process). Once it has loaded what
it serves with, it tunes its garbage collector (CHATBOT_GC_THRESHOLDS, chatbot/garbage_collector.py).
At shutdown the sweeper stops.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from chatbot.conversations import events
from chatbot.garbage_collector import garbage_collector_tune
from chatbot.replies.loading import models_warm_up_in_background
from chatbot.replies.sweeper import sweeper_start, sweeper_stop
from chatbot.webhooks.services import webhook_deliveries_resume

logger = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def web_process_start() -> None:
    """Call on the server's loop once the process serves."""
    events.bind_server_loop(asyncio.get_running_loop())
    sweeper_start()
    if settings.CHATBOT_DISPATCH == "inprocess":
        # This process answers customers itself: load the models while the server starts (and
        # tune the garbage collector once they are loaded, so that they are frozen too).
        models_warm_up_in_background(then=_garbage_collector_tune)
        # And delivers webhooks itself: the retries the previous process was waiting for go on.
        threading.Thread(target=_webhooks_resume, name="webhooks-resume", daemon=True).start()
    else:
        _garbage_collector_tune()


def _garbage_collector_tune() -> None:
    garbage_collector_tune(settings.CHATBOT_GC_THRESHOLDS)


def _webhooks_resume() -> None:
    close_old_connections()
    try:
        resumed = webhook_deliveries_resume()
        if resumed:
            logger.info("resumed %d open webhook deliveries", resumed)
    except Exception:
        logger.exception("could not resume the open webhook deliveries; `manage.py webhooks retry-due` does")
    finally:
        close_old_connections()


async def lifespan_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI application of the `lifespan` scope."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                web_process_start()
            except Exception as exc:
                logger.exception("the web process could not start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await sweeper_stop()
            await send({"type": "lifespan.shutdown.complete"})
            return
