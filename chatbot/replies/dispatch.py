"""Running a task after a committed change, per settings.CHATBOT_DISPATCH: the bot's reply to a
customer message, and the work that must not hold up the request or the reply (re-embedding an
edited FAQ, scoring a message's sentiment, hot topics, a training run).

- `celery`: queued for a worker, on the queue settings.CELERY_TASK_ROUTES gives the task;
- `inprocess` (the embedded demo): the task's own code on a worker thread of this process;
- `inline` (tests and scripts): the task's own code, right here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

from chatbot.conversations import events

logger = logging.getLogger(__name__)


class Task(Protocol):
    """A Celery task of one argument, an id or a list of ids (`@shared_task`): `run` is its body,
    `apply_async` queues it."""

    run: Callable[[Any], Any]

    def apply_async(self, args: tuple[Any, ...], **options: Any) -> Any: ...


def _queue(task: Task, argument: Any, **options: Any) -> None:
    """Queue one run of `task`. Its arguments' text for logs and monitors is given as `repr`
    writes it (an id or a short list of ids), which reads the same as Celery's own `saferepr`:
    left to Celery, working it out cost about 70 us of CPU per task (bench/README.md, stop 25)."""
    task.apply_async((argument,), argsrepr=repr((argument,)), kwargsrepr="{}", **options)


def task_dispatch(task: str, argument: Any, *, what: str, if_lost: str) -> None:
    """Run the Celery task `task` (its dotted path) on `argument`, per settings.CHATBOT_DISPATCH.
    Call after the change is committed.

    The task is named, not passed: it is looked up when dispatched, as Celery itself finds tasks by
    name, so a service can queue its own app's task although that task module imports the service.
    `what` names the work in thread names and logs, e.g. "reply" or "faq-embed". A task that cannot
    be queued (the broker is unreachable) is logged with `if_lost`, what redoes the work, and not
    raised: the change itself is stored."""
    found: Task = import_string(task)
    mode = settings.CHATBOT_DISPATCH
    if mode == "celery":
        try:
            _queue(found, argument)
        except Exception:
            logger.warning("could not queue the %s for %s; %s", what, argument, if_lost, exc_info=True)
    elif mode == "inline":
        found.run(argument)
    else:
        _run_in_process(found.run, argument, what)


def tasks_dispatch(task: str, arguments: list[Any], *, what: str, if_lost: str) -> None:
    """`task_dispatch` for several runs of one task at once: with Celery they are published in one
    producer batch (one Redis pipeline: one client and one round trip, instead of a client built
    and a round trip for each, which cost about 0.3 ms of this process's CPU apiece)."""
    if settings.CHATBOT_DISPATCH != "celery" or len(arguments) < 2:
        for argument in arguments:
            task_dispatch(task, argument, what=what, if_lost=if_lost)
        return
    found: Any = import_string(task)
    try:
        with found.app.producer_or_acquire() as producer, producer.batch(max_size=len(arguments)):
            for argument in arguments:
                _queue(found, argument, producer=producer)
    except Exception:
        logger.warning("could not queue the %s for %s; %s", what, arguments, if_lost, exc_info=True)


def _run_in_process(run: Callable[[Any], Any], argument: Any, what: str) -> None:
    """The task's body on a worker thread of this process.

    With a websocket server loop in this process, the thread is started from that loop
    (`sync_to_async`), which is what lets the task's realtime events reach the in-memory layer.
    """
    loop = events.server_loop()
    if loop is None:
        name = f"{what}-{argument}"[:60]
        threading.Thread(target=_run_logged, args=(run, argument, what), name=name, daemon=True).start()
        return

    async def on_the_loop() -> None:
        await sync_to_async(_run_logged, thread_sensitive=False)(run, argument, what)

    asyncio.run_coroutine_threadsafe(on_the_loop(), loop)


def _run_logged(run: Callable[[Any], Any], argument: Any, what: str) -> None:
    close_old_connections()
    try:
        run(argument)
    except Exception:
        # What triggered it is committed; the task's catch-up (`if_lost`) redoes it.
        logger.exception("in-process %s for %s failed", what, argument)
    finally:
        close_old_connections()


def reply_dispatch(message_id: int) -> None:
    """Queue the bot's reply to a customer message (on the `inference` queue with Celery). If the
    broker is unreachable the message waits for its reply, and the sweeper queues it again."""
    task_dispatch("chatbot.replies.tasks.reply_generate", message_id, what="reply", if_lost="the sweeper will retry")


def replies_dispatch(waiting: list[tuple[int, int]]) -> None:
    """Queue the bot's replies to customer messages stored together, given as (message id,
    conversation id): in at most settings.CHATBOT_REPLY_TASKS_PER_COMMIT tasks, so a busy group
    commit costs the web process a few broker round trips instead of one per message, while that
    many workers can still answer them side by side. A conversation's messages go to one task. A
    single message is queued as `reply_dispatch` queues it."""
    if len(waiting) == 1:
        reply_dispatch(waiting[0][0])
        return
    tasks_dispatch(
        "chatbot.replies.tasks.replies_generate",
        reply_batches(waiting, settings.CHATBOT_REPLY_TASKS_PER_COMMIT),
        what="replies",
        if_lost="the sweeper will retry",
    )


def reply_batches(waiting: list[tuple[int, int]], tasks: int) -> list[list[int]]:
    """The message ids in at most `tasks` batches of about equal size, each conversation's messages
    in one batch and in the order given."""
    by_conversation: dict[int, list[int]] = {}
    for message_id, conversation_id in waiting:
        by_conversation.setdefault(conversation_id, []).append(message_id)
    batches: list[list[int]] = [[] for _ in range(max(1, min(tasks, len(by_conversation))))]
    # Largest conversations first, each to the emptiest batch so far.
    for ids in sorted(by_conversation.values(), key=len, reverse=True):
        min(batches, key=len).extend(ids)
    return [batch for batch in batches if batch]


def faq_refresh_dispatch(site_id: int) -> None:
    """Re-embed a site's FAQ after an edit (on an `inference` worker with Celery), so the bot can
    answer with a new or changed entry without waiting for a customer's question to trigger it.
    If it fails, the entry is saved all the same, and a worker re-embeds it before its next answer
    on this site."""
    task_dispatch(
        "chatbot.replies.tasks.faq_refresh",
        site_id,
        what="faq-embed",
        if_lost="a worker re-embeds it before its next answer on the site",
    )
