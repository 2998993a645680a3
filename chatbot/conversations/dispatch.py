"""Getting a stored customer message to the reply task, per settings.CHATBOT_DISPATCH."""

from __future__ import annotations

import asyncio
import logging
import threading

from asgiref.sync import sync_to_async
from django.conf import settings

from chatbot.conversations import events

logger = logging.getLogger(__name__)


def reply_dispatch(message_id: int) -> None:
    """Queue the bot's reply to a customer message. Call after the message is committed."""
    mode = settings.CHATBOT_DISPATCH
    if mode == "celery":
        from chatbot.conversations.tasks import generate_reply

        try:
            generate_reply.delay(message_id)
        except Exception:
            # The broker is unreachable. The message is stored and waits for its reply: the
            # sweeper (chatbot.conversations.sweeper) queues it again once the broker is back.
            logger.warning("could not queue the reply to message %s; the sweeper will retry", message_id, exc_info=True)
    elif mode == "inline":
        _run_reply(message_id)
    else:
        _dispatch_in_process(message_id)


def _run_reply(message_id: int) -> None:
    from chatbot.conversations.replies import reply_generate

    reply_generate(message_id=message_id)


def _dispatch_in_process(message_id: int) -> None:
    """Run the same code the Celery task runs, on a worker thread of this process.

    With a websocket server loop in this process, the thread is started from that loop
    (`sync_to_async`), which is what lets the task's realtime events reach the in-memory layer.
    """
    loop = events.server_loop()
    if loop is None:
        threading.Thread(target=_run_logged, args=(message_id,), name=f"reply-{message_id}", daemon=True).start()
        return

    async def run() -> None:
        await sync_to_async(_run_logged, thread_sensitive=False)(message_id)

    asyncio.run_coroutine_threadsafe(run(), loop)


def _run_logged(message_id: int) -> None:
    from django.db import close_old_connections

    close_old_connections()
    try:
        _run_reply(message_id)
    except Exception:
        logger.exception("in-process reply to message %s failed", message_id)
    finally:
        close_old_connections()
