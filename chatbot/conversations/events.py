"""Realtime events to a conversation's websocket group, from any thread or process.

Services call these after their transaction commits. Publishing needs an event loop:
- with the in-memory channel layer (embedded mode) it must be the web server's own loop, since
  the layer's queues belong to it; the consumer binds that loop when it connects;
- with the Redis channel layer (web processes and Celery workers) a long-lived loop on a
  background thread of this process is used, so a streamed reply reuses one Redis connection
  pool instead of opening one per token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from chatbot.conversations.frames import message_frame
from chatbot.conversations.models import Conversation, Message

logger = logging.getLogger(__name__)

_server_loop: asyncio.AbstractEventLoop | None = None
_background_loop: asyncio.AbstractEventLoop | None = None
_background_pid: int | None = None
_background_lock = threading.Lock()
PUBLISH_TIMEOUT_S = 5.0


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def visitor_group(visitor_public_id: object) -> str:
    return f"visitor.{visitor_public_id}"


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by consumers: the loop that serves websockets in this process."""
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    loop = _server_loop
    return loop if loop is not None and loop.is_running() else None


def _publishing_loop() -> asyncio.AbstractEventLoop | None:
    global _background_loop, _background_pid
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        return server_loop()
    with _background_lock:
        # A forked Celery child inherits the parent's variables but not its threads.
        if _background_loop is None or _background_pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-publisher", daemon=True).start()
            _background_loop, _background_pid = loop, os.getpid()
        return _background_loop


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    loop = _publishing_loop()
    if loop is None:
        # Embedded mode with no websocket ever connected in this process: nobody can listen.
        coroutine.close()
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        # Called on the loop itself: schedule, don't block the loop waiting for itself.
        loop.create_task(coroutine)
        return
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    try:
        future.result(timeout=PUBLISH_TIMEOUT_S)
    except Exception:
        # The database already holds the message; clients recover it with `resume`.
        logger.exception("publishing a realtime event failed")


def group_send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    _run(layer.group_send(group, event))


def publish_message(message: Message) -> None:
    group_send(conversation_group(message.conversation_id), {"type": "chat.message", "frame": message_frame(message)})


def publish_status(conversation: Conversation) -> None:
    group_send(
        conversation_group(conversation.pk),
        {"type": "chat.status", "frame": {"type": "status", "status": conversation.status}},
    )


def publish_token(*, conversation_id: int, reply_to: int, delta: str) -> None:
    group_send(
        conversation_group(conversation_id),
        {"type": "chat.token", "frame": {"type": "token", "reply_to": reply_to, "delta": delta}},
    )


def typing_event(*, sender: str, origin: str = "") -> dict[str, Any]:
    """`origin` is the channel of the connection that is typing; it does not get the frame back."""
    return {"type": "chat.typing", "frame": {"type": "typing", "sender": sender}, "origin": origin}


def publish_typing(*, conversation_id: int, sender: str, origin: str = "") -> None:
    group_send(conversation_group(conversation_id), typing_event(sender=sender, origin=origin))


def publish_conversation_started(*, conversation: Conversation, visitor_public_id: object) -> None:
    """Tells the visitor's other tabs that a conversation now exists, so they join it."""
    group_send(visitor_group(visitor_public_id), {"type": "chat.conversation", "conversation": conversation.pk})
