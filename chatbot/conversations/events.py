"""Realtime events to a conversation's websocket group, from any thread or process.

Services call these after their transaction commits. Publishing needs an event loop:
- with the in-memory channel layer (embedded mode) it must be the web server's own loop, since
  the layer's queues belong to it; the consumer binds that loop when it connects;
- with the Redis channel layer (web processes and Celery workers) a long-lived loop on a
  background thread of this process is used, so a streamed reply reuses one Redis connection
  pool instead of opening one per token.
Either way one publisher per loop sends the events in the order they were submitted.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from chatbot.channel_layers import SKIP_CHANNEL
from chatbot.conversations.frames import message_frame
from chatbot.conversations.models import Conversation, Message

logger = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None
_background_loop: asyncio.AbstractEventLoop | None = None
_background_pid: int | None = None
_lock = threading.Lock()
_publishers: dict[asyncio.AbstractEventLoop, _OrderedPublisher] = {}
# The most queued events a publisher sends in one go (two Redis round trips with the project's layer).
PUBLISH_BATCH = 200


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def visitor_group(visitor_public_id: object) -> str:
    return f"visitor.{visitor_public_id}"


def console_conversation_group(conversation_id: int) -> str:
    """Consoles that have the conversation open: what only operators see (internal notes)."""
    return f"console.conversation.{conversation_id}"


def inbox_group(site_id: int) -> str:
    """The operator consoles watching a site's conversations."""
    return f"inbox.site.{site_id}"


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by consumers: the loop that serves websockets in this process."""
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    loop = _server_loop
    return loop if loop is not None and loop.is_running() else None


class _OrderedPublisher:
    """Sends events to the channel layer in the order they were submitted, on one event loop:
    what was queued meanwhile goes out in one batch where the layer can send one (two Redis round
    trips for up to PUBLISH_BATCH events), else one event after another. Submitting never waits
    for Redis: the web process acks sooner and a worker streams a reply without a round trip per
    token. When a backlog builds up, consecutive tokens of the same reply are merged into one frame."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: deque[tuple[str, dict[str, Any]]] = deque()
        self.wake: asyncio.Event | None = None
        self.idle: asyncio.Event | None = None  # set while nothing is queued or being sent
        self.task: asyncio.Task[None] | None = None

    def submit(self, group: str, event: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self._enqueue, group, event)

    def _enqueue(self, group: str, event: dict[str, Any]) -> None:
        self.items.append((group, event))
        if self.task is None or self.task.done():
            self.wake, self.idle = asyncio.Event(), asyncio.Event()
            self.task = self.loop.create_task(self._run())
        assert self.wake is not None
        self.wake.set()

    async def _run(self) -> None:
        assert self.wake is not None and self.idle is not None
        layer = get_channel_layer()
        while True:
            if not self.items:
                self.idle.set()
                self.wake.clear()
                await self.wake.wait()
                continue
            self.idle.clear()
            batch: list[tuple[str, dict[str, Any]]] = []
            while self.items and len(batch) < PUBLISH_BATCH:
                group, event = self.items.popleft()
                if event["type"] == "chat.token":
                    event = self._merge_following_tokens(group, event)
                batch.append((group, event))
            await self._send(layer, batch)

    async def _send(self, layer: Any, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """What was queued meanwhile, in order: in one go where the layer can
        (chatbot.channel_layers), else one event after another."""
        send_many = getattr(layer, "group_send_many", None)
        if send_many is not None:
            try:
                await send_many(batch)
                return
            except Exception:
                # The database already holds every message; clients recover them with `resume`.
                logger.exception("publishing %d events failed", len(batch))
                return
        for group, event in batch:
            try:
                await layer.group_send(group, event)
            except Exception:
                logger.exception("publishing %s to %s failed", event["type"], group)

    async def drain_and_stop(self) -> None:
        """Send what is queued, then end the sending task."""
        if self.task is not None and self.idle is not None and not self.task.done():
            await self.idle.wait()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _merge_following_tokens(self, group: str, event: dict[str, Any]) -> dict[str, Any]:
        frame = event["frame"]
        deltas = [frame["delta"]]
        while self.items:
            next_group, following = self.items[0]
            same_reply = (
                following["type"] == "chat.token"
                and following["frame"]["reply_to"] == frame["reply_to"]
                and following["frame"].get("attempt") == frame.get("attempt")
            )
            if next_group != group or not same_reply:
                break
            deltas.append(self.items.popleft()[1]["frame"]["delta"])
        if len(deltas) == 1:
            return event
        return {**event, "frame": {**frame, "delta": "".join(deltas)}}


def _publishing_loop() -> asyncio.AbstractEventLoop | None:
    global _background_loop, _background_pid
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        return server_loop()
    # A forked Celery child inherits the parent's variables but not its threads.
    if _background_loop is None or _background_pid != os.getpid():
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="channel-layer-publisher", daemon=True).start()
        _background_loop, _background_pid = loop, os.getpid()
        _publishers.clear()
    return _background_loop


@atexit.register
def shutdown_background_publisher(timeout: float = 5.0) -> None:
    """Flush the events this process still has queued (a worker finishing its last reply) and
    stop the background loop. Runs at interpreter exit."""
    global _background_loop
    loop = _background_loop
    if loop is None or _background_pid != os.getpid() or not loop.is_running():
        return
    publisher = _publishers.get(loop)
    if publisher is not None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(publisher.drain_and_stop(), loop).result(timeout)
    loop.call_soon_threadsafe(loop.stop)
    _background_loop = None
    _publishers.pop(loop, None)


def group_send(group: str, event: dict[str, Any]) -> None:
    """Queue an event for a group; returns at once. Safe from any thread of the process."""
    if get_channel_layer() is None:
        return
    with _lock:
        loop = _publishing_loop()
        if loop is None:
            # Embedded mode with no websocket ever connected in this process: nobody can listen.
            return
        publisher = _publishers.get(loop)
        if publisher is None:
            for stale in [known for known in _publishers if known.is_closed()]:
                del _publishers[stale]
            publisher = _publishers[loop] = _OrderedPublisher(loop)
    publisher.submit(group, event)


def sockets_join(memberships: Sequence[tuple[int, str]]) -> bool:
    """Add each socket (its channel name) to its conversation's group now, from a thread that runs
    no event loop: the group commit's writer joins the sockets that started conversations before
    their replies are queued, so that no reply can be published before they listen. False where
    the layer cannot do that (Channels' in-memory layer) or it failed: the sockets join themselves."""
    join = getattr(get_channel_layer(), "groups_join_blocking", None)
    if join is None or not memberships:
        return False
    try:
        return bool(join([(conversation_group(conversation_id), channel) for conversation_id, channel in memberships]))
    except Exception:
        logger.warning("joining %d sockets to their new conversations failed", len(memberships), exc_info=True)
        return False


def _skipping(event: dict[str, Any], origin: str) -> dict[str, Any]:
    """`event`, not sent back to the channel `origin` (a socket that already has it), where the
    channel layer can leave one member out (chatbot.channel_layers)."""
    return {**event, SKIP_CHANNEL: origin} if origin else event


def publish_message(message: Message, *, site_id: int | None = None, origin: str = "") -> None:
    """To the conversation's sockets; `origin`, the socket that stored the message and shows it
    already, is left out."""
    event = {"type": "chat.message", "frame": message_frame(message)}
    group_send(conversation_group(message.conversation_id), _skipping(event, origin))
    if site_id is not None:
        publish_inbox(site_id=site_id, conversation_id=message.conversation_id, kind="message")


def status_frame(conversation: Conversation) -> dict[str, Any]:
    """The `status` frame: the status, and for a conversation waiting for a person since when and
    how long the widget waits before it offers to leave a message; the operator's name once one
    answers."""
    frame: dict[str, Any] = {"type": "status", "status": conversation.status}
    if conversation.status == "waiting_human" and conversation.waiting_since is not None:
        frame["waiting_since"] = conversation.waiting_since.isoformat()
        frame["handoff_timeout_s"] = settings.CHATBOT_HANDOFF_TIMEOUT_S
    return frame


def publish_status(conversation: Conversation) -> None:
    group_send(conversation_group(conversation.pk), {"type": "chat.status", "frame": status_frame(conversation)})
    kind = "handoff" if conversation.status == "waiting_human" else "status"
    publish_inbox(site_id=conversation.site_id, conversation_id=conversation.pk, kind=kind)


def publish_inbox(*, site_id: int, conversation_id: int, kind: str, seq: int | None = None) -> None:
    """Tell the consoles watching the site that a conversation changed. `kind` is `message`,
    `status`, `handoff` (it now waits for a person: consoles notify), `assigned`, `contact`,
    `rating`, `sentiment`, `feedback` or `escalated`. With `seq`, that message changed (its
    sentiment, complaint or feedback): consoles showing the conversation get it again."""
    event: dict[str, Any] = {"type": "inbox.changed", "conversation": conversation_id, "kind": kind}
    if seq is not None:
        event["seq"] = seq
    group_send(inbox_group(site_id), event)


def publish_token(*, conversation_id: int, reply_to: int, delta: str, attempt: int = 1) -> None:
    """A piece of the reply to message `reply_to` as it is generated. `attempt` counts the runs
    that generated it: a reply restarted by another worker (the first one died) streams anew, and
    clients start its text over when the attempt changes."""
    group_send(
        conversation_group(conversation_id),
        {"type": "chat.token", "frame": {"type": "token", "reply_to": reply_to, "delta": delta, "attempt": attempt}},
    )


def typing_event(*, sender: str, origin: str = "") -> dict[str, Any]:
    """`origin` is the channel of the connection that is typing; it does not get the frame back (the
    Redis layer leaves it out; with the in-memory layer it drops the event, named under SKIP_CHANNEL)."""
    return _skipping({"type": "chat.typing", "frame": {"type": "typing", "sender": sender}}, origin)


def publish_typing(*, conversation_id: int, sender: str, origin: str = "") -> None:
    group_send(conversation_group(conversation_id), typing_event(sender=sender, origin=origin))


def publish_conversation_started(*, conversation: Conversation, visitor_public_id: object, origin: str = "") -> None:
    """Tells the visitor's other tabs that a conversation now exists, so they join it (`origin`,
    the socket that started it, follows it already)."""
    event = {"type": "chat.conversation", "conversation": conversation.pk}
    group_send(visitor_group(visitor_public_id), _skipping(event, origin))
