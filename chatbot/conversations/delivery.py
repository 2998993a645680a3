"""Delivering a conversation's messages to one socket: every stored message exactly once, in `seq`
order, whatever order the realtime events arrive in or whichever were missed. Used by the widget's
consumer and the console's (chatbot.console.consumers), each reading its own frames.

The socket remembers the highest seq it delivered. An event that skips ahead makes it read the gap
from the database first; an event it already delivered is dropped. A widget back to a conversation
says with `resume` which seq it has; until then live messages are held back (they are stored, and
the resume reads them), or one could arrive twice and out of order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer

from chatbot.conversations import events
from chatbot.conversations.frames import message_frame
from chatbot.conversations.models import Conversation
from chatbot.conversations.selectors import message_stored_after, messages_after

REFUSED = 4403  # close code of a refused handshake (the HTTP answer is 403)

_Result = TypeVar("_Result")

Frame = dict[str, Any]
# Reads the frames of a conversation's messages after one seq, up to another (None: the last).
FramesAfter = Callable[[int, int, int | None], Awaitable[list[Frame]]]
Send = Callable[[Frame], Awaitable[None]]


def database_sync_to_async(function: Callable[..., _Result]) -> Callable[..., Awaitable[_Result]]:
    """ORM work on a pool thread, closing stale connections around it.

    Channels' default runs every connection's database work on one shared thread, which caps a
    web process at one query at a time. Each connection still awaits its own calls one by one,
    so frames of one connection are handled in order.
    """
    return DatabaseSyncToAsync(function, thread_sensitive=False)  # type: ignore[no-any-return]


@database_sync_to_async
def message_frames_after(conversation_id: int, after_seq: int, up_to_seq: int | None = None) -> list[Frame]:
    """The widget's `message` frames of a conversation's messages after `after_seq` (up to `up_to_seq`)."""
    return [
        message_frame(m)
        for m in messages_after(conversation_id=conversation_id, after_seq=after_seq, up_to_seq=up_to_seq)
    ]


@database_sync_to_async
def message_stored_after_read(conversation_id: int, after_seq: int) -> bool:
    """Whether the conversation holds a message after `after_seq` (`selectors.message_stored_after`)."""
    return message_stored_after(conversation_id=conversation_id, after_seq=after_seq)


@database_sync_to_async
def status_frame_read(conversation_id: int) -> Frame:
    """The conversation's `status` frame as it is now."""
    return events.status_frame(Conversation.objects.get(pk=conversation_id))


class Delivery:
    """What one socket has delivered of the conversation it follows."""

    def __init__(self, *, send: Send, frames_after: FramesAfter) -> None:
        self._send = send
        self._frames_after = frames_after
        self.conversation_id: int | None = None
        self.delivered_seq = 0
        self.awaiting_resume = False

    def follow(self, conversation_id: int | None, *, delivered_seq: int, awaiting_resume: bool | None = None) -> None:
        """From now on, this conversation (None: none), delivered up to `delivered_seq`; live
        messages held back until a resume if `awaiting_resume` (None: as before)."""
        self.conversation_id = conversation_id
        self.delivered_seq = delivered_seq
        if awaiting_resume is not None:
            self.awaiting_resume = awaiting_resume

    def resumed(self, *, delivered_seq: int) -> None:
        """The client has every message up to `delivered_seq` (it resumed, or opened the
        conversation): live messages flow again."""
        self.delivered_seq = delivered_seq
        self.awaiting_resume = False

    async def deliver(self, frame: Frame) -> None:
        """A live message of the followed conversation, as its event carried it: sent if it is the
        next one, the gap read from the database first if it skips ahead, dropped if delivered."""
        if frame["conversation"] != self.conversation_id or self.awaiting_resume:
            return
        seq = int(frame["seq"])
        if seq <= self.delivered_seq:
            return
        if seq > self.delivered_seq + 1:
            await self.catch_up(up_to_seq=seq)
            return
        await self._send(frame)
        self.delivered_seq = seq

    async def stored(self, *, conversation_id: int, seq: int) -> None:
        """Message `seq` of a conversation was stored: if it is the followed one, send what this
        socket has not had of it up to `seq`, read from the database (for frames that carry more
        than the event did, such as the console's)."""
        if conversation_id == self.conversation_id:
            await self.catch_up(up_to_seq=seq)

    async def catch_up(self, *, up_to_seq: int | None) -> None:
        """Send what is stored after the delivered seq (up to `up_to_seq`, or all), in order."""
        if self.conversation_id is None or (up_to_seq is not None and up_to_seq <= self.delivered_seq):
            return
        for item in await self._frames_after(self.conversation_id, self.delivered_seq, up_to_seq):
            await self._send(item)
            self.delivered_seq = item["seq"]


class ConversationSocket(AsyncWebsocketConsumer):
    """A websocket that follows one conversation at a time through a `Delivery`: the widget's and
    the console's. Subclasses say how they read a conversation's frames (`frames_after`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delivery = Delivery(send=self._send, frames_after=self.frames_after)

    @property
    def conversation_id(self) -> int | None:
        """The conversation this socket follows."""
        return self.delivery.conversation_id

    async def frames_after(self, conversation_id: int, after_seq: int, up_to_seq: int | None) -> list[Frame]:
        raise NotImplementedError

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-frame `aclose_old_connections()`: that is a thread
        hop for every frame and every group event, and this socket's database work already runs
        through `database_sync_to_async` above, which closes stale connections around each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def bind_server_loop(self) -> None:
        """Where this process's realtime events are published (the in-memory layer's loop). The web
        process binds it at start-up (chatbot.lifespan); a server without lifespan events (the
        tests' communicators) has it bound by its sockets."""
        events.bind_server_loop(asyncio.get_running_loop())

    async def _send(self, frame: Frame) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))
