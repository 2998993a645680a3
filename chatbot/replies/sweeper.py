"""The reply sweeper: no customer message is left without an answer because a task got lost.

A reply task can vanish: its worker killed before it acknowledged the task (the broker hands it
out again only after its visibility timeout), the broker restarted without its queues, a web
process gone between storing a message and queuing its reply, or the broker unreachable at that
moment. The message itself is in the database, marked `reply_pending`. Every web process sweeps
for such messages and queues their reply again; a conversation's oldest waiting message is enough,
since its run answers the later ones in order. Each message is queued again at most once per
sweep across all processes (a conditional update claims it), waiting longer each time, and the
reply task's own run count hands the conversation to a person when runs keep failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from chatbot.conversations.models import ConversationStatus, Message, Sender
from chatbot.conversations.services import replies_pending_cancel
from chatbot.replies.dispatch import reply_dispatch

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


@dataclass(frozen=True)
class Sweep:
    requeued: list[int]  # ids of the messages whose reply was queued again
    released: int  # waiting messages of conversations the bot no longer answers


def replies_sweep(*, now: datetime | None = None) -> Sweep:
    """Queue again the replies of messages still waiting CHATBOT_REPLY_SWEEP_AFTER_S after they
    were last queued, unless the queue is still working its way towards them; the wait doubles
    each time (it is at least the time since the message was first queued), so a reply that is
    merely slow is not queued over and over."""
    now = now or timezone.now()
    after = timedelta(seconds=settings.CHATBOT_REPLY_SWEEP_AFTER_S)
    due = (
        Message.objects.filter(reply_pending=True, sender=Sender.CUSTOMER, reply_dispatched_at__lte=now - after)
        .select_related("conversation")
        .order_by("conversation_id", "seq")[:SWEEP_BATCH]
    )
    requeued: list[int] = []
    released = 0
    seen: set[int] = set()
    progress: tuple[bool, datetime | None] | None = None  # read once, and only if a message is due
    for message in due:
        if message.conversation_id in seen:
            continue
        seen.add(message.conversation_id)
        if message.conversation.status != ConversationStatus.BOT:
            # Defensive: leaving the bot's hands clears these already.
            released += replies_pending_cancel(message.conversation)
            continue
        last = message.reply_dispatched_at
        assert last is not None
        if progress is None:
            progress = _queue_progress(now=now, after=after)
        answering, reached = progress
        if answering and (reached is None or reached <= last):
            continue  # still in the queue, behind replies that are being answered: not lost
        if now - last < max(after, last - message.created_at):
            continue
        if _claim(message, now=now):
            logger.warning(
                "message %s of conversation %s has waited %.0f s for its reply; queuing it again",
                message.pk,
                message.conversation_id,
                (now - message.created_at).total_seconds(),
            )
            reply_dispatch(message.pk)
            requeued.append(message.pk)
    return Sweep(requeued=requeued, released=released)


PROGRESS_SAMPLE = 50


def _queue_progress(*, now: datetime, after: timedelta) -> tuple[bool, datetime | None]:
    """Whether replies are being answered (one was stored in the last `after`), and how far the
    queue has got: the latest time a message answered lately was queued.

    Workers take tasks roughly in the order they were queued, so a message queued before that
    time and still waiting lost its task; one queued after it may merely wait behind a backlog,
    and queuing it again would only lengthen the backlog. When nothing is being answered there is
    no telling, and the doubling wait alone spaces the tries."""
    latest = list(
        Message.objects.filter(sender=Sender.BOT, reply_to__isnull=False)
        .order_by("-pk")
        .values_list("created_at", "reply_to__reply_dispatched_at")[:PROGRESS_SAMPLE]
    )
    if not latest:
        return False, None
    answering = now - max(created for created, _ in latest) < after
    reached = max((queued for _, queued in latest if queued is not None), default=None)
    return answering, reached


def _claim(message: Message, *, now: datetime) -> bool:
    """Whether this sweep queues the message again: of several web processes sweeping at once
    (each read it waiting since the same time) exactly one moves its `reply_dispatched_at` on."""
    return bool(
        Message.objects.filter(
            pk=message.pk, reply_pending=True, reply_dispatched_at=message.reply_dispatched_at
        ).update(reply_dispatched_at=now)
    )


def _sweep_logged() -> None:
    close_old_connections()
    try:
        replies_sweep()
    except Exception:
        # The database may be briefly unreachable; the next sweep tries again.
        logger.exception("the reply sweep failed")
    finally:
        close_old_connections()


_running_in: tuple[int, asyncio.AbstractEventLoop] | None = None
_task: asyncio.Task[None] | None = None  # kept referenced, or the loop could drop it


def sweeper_start() -> None:
    """Run the sweep every CHATBOT_REPLY_SWEEP_INTERVAL_S on this process's server loop (once per
    process; 0 turns it off). Called when the web process starts (ASGI lifespan, chatbot.lifespan),
    so a process that serves only HTTP sweeps too."""
    global _running_in, _task
    interval = settings.CHATBOT_REPLY_SWEEP_INTERVAL_S
    if interval <= 0:
        return
    loop = asyncio.get_running_loop()
    if _running_in == (os.getpid(), loop):
        return
    _running_in = (os.getpid(), loop)
    sweep = sync_to_async(_sweep_logged, thread_sensitive=False)

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            await sweep()

    _task = loop.create_task(run(), name="reply-sweeper")


async def sweeper_stop() -> None:
    """Stop this process's sweep (ASGI lifespan shutdown)."""
    global _running_in, _task
    task, _task, _running_in = _task, None, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
