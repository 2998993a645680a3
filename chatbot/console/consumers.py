"""The console's websocket (docs/console-protocol.md): a thin adapter over the console services.

On connect it sends the operator's inbox, then keeps it live: every change of a conversation on
the operator's sites arrives as a fresh row that replaces the old one, so a console that
reconnects asks for the inbox again and has lost nothing. An open conversation is delivered like
the widget's (chatbot.conversations.delivery): every message exactly once, in `seq` order, with
what only operators see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from django.conf import settings

from chatbot.channel_layers import SKIP_CHANNEL
from chatbot.console import selectors, services
from chatbot.console.access import console_operator, site_ids_for
from chatbot.console.frames import (
    ClaimFrame,
    CloseFrame,
    ContactHandledFrame,
    HeartbeatFrame,
    InboxFrame,
    NoteFrame,
    OpenFrame,
    ReleaseFrame,
    ReplyFrame,
    TypingFrame,
    parse_console_frame,
)
from chatbot.console.models import Note, Operator
from chatbot.conversations import events
from chatbot.conversations.delivery import REFUSED, ConversationSocket, Send, database_sync_to_async
from chatbot.conversations.frames import FrameError, error_frame
from chatbot.conversations.models import ContactRequest, Conversation, ConversationStatus
from chatbot.sites.origins import same_origin

logger = logging.getLogger(__name__)


def _same_origin(scope: dict[str, Any]) -> bool:
    """A console socket must come from a console page of this server (cookies alone would let any
    site that a signed-in operator visits open one). Behind https (`SECURE_SSL_REDIRECT`, or a wss
    handshake) only an https page qualifies: an http page of the same host could be anyone's on
    the way."""
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    https_only = bool(settings.SECURE_SSL_REDIRECT) or scope.get("scheme") == "wss"
    return same_origin(origin, host, https_only=https_only)


@database_sync_to_async
def _frames_after(conversation_id: int, after_seq: int, up_to_seq: int | None) -> list[dict[str, Any]]:
    return selectors.console_messages_after(conversation_id=conversation_id, after_seq=after_seq, up_to_seq=up_to_seq)


HANDOFF = "handoff"


class _InboxRows:
    """The rows of the conversations that changed, sent to one console: each change used to cost
    a read of its row, so a console watching sites with hundreds of messages a second made
    hundreds of queries a second. The first change is read at once; what changes in the next
    `interval` seconds is read in one query at its end, each row once, as it is then. A
    conversation handed to a person is read at once, and the console alerted (`notify`)."""

    def __init__(self, *, send: Send, site_ids: set[int], interval: float) -> None:
        self._send_frame = send
        self._site_ids = site_ids
        self._interval = interval
        self._changed: dict[int, str] = {}  # conversation -> the kind of its latest change
        self._urgent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._read_at = -interval  # loop time of the last read

    def changed(self, conversation_id: int, kind: str) -> None:
        # A hand-off still to be alerted stays one.
        if self._changed.get(conversation_id) != HANDOFF:
            self._changed[conversation_id] = kind
        if kind == HANDOFF:
            self._urgent.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._send_changed())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _send_changed(self) -> None:
        loop = asyncio.get_running_loop()
        while self._changed:
            wait = self._read_at + self._interval - loop.time()
            if wait > 0 and not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), timeout=wait)
            self._urgent.clear()
            changed, self._changed = self._changed, {}
            self._read_at = loop.time()
            try:
                await self._send(changed)
            except Exception:
                # The console asks for the whole inbox again when it reconnects.
                logger.exception("sending %d inbox rows failed", len(changed))

    async def _send(self, changed: dict[int, str]) -> None:
        rows = await database_sync_to_async(selectors.inbox_rows_get)(
            conversation_ids=list(changed), site_ids=self._site_ids
        )
        for row in rows:
            kind = changed[row["id"]]
            await self._send_frame({"type": "conversation", "conversation": row, "kind": kind})
            if kind == HANDOFF:
                await self._send_frame({"type": "notify", "conversation": row, "reason": "waiting_human"})


class ConsoleConsumer(ConversationSocket):
    operator: Operator
    site_ids: set[int]
    conversation_status: str = ""  # the open conversation's status, as last told
    inbox_rows: _InboxRows

    # The conversation open in this console is `conversation_id`.

    async def frames_after(self, conversation_id: int, after_seq: int, up_to_seq: int | None) -> list[dict[str, Any]]:
        return await _frames_after(conversation_id, after_seq, up_to_seq)

    async def connect(self) -> None:
        self.bind_server_loop()
        operator = await database_sync_to_async(console_operator)(self.scope.get("user"), self.scope.get("session", {}))
        if operator is None or not _same_origin(self.scope):
            await self.close(code=REFUSED)
            return
        self.operator = operator
        self.site_ids = await database_sync_to_async(site_ids_for)(operator)
        self.inbox_rows = _InboxRows(
            send=self._send, site_ids=self.site_ids, interval=settings.CHATBOT_CONSOLE_INBOX_INTERVAL_S
        )
        for site_id in self.site_ids:
            await self.channel_layer.group_add(events.inbox_group(site_id), self.channel_name)
        await self.accept()
        await database_sync_to_async(services.operator_heartbeat)(
            operator=operator, seconds=settings.CHATBOT_OPERATOR_ONLINE_S
        )
        await self._send(
            {
                "type": "hello",
                "operator": {"id": operator.user_id, "name": operator.name, "role": operator.role},
                "handoff_timeout_s": settings.CHATBOT_HANDOFF_TIMEOUT_S,
            }
        )
        await self._send_inbox()

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "operator"):
            return
        self.inbox_rows.stop()
        for site_id in self.site_ids:
            await self.channel_layer.group_discard(events.inbox_group(site_id), self.channel_name)
        await self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._send(error_frame("binary_not_supported", "Send JSON text frames."))
            return
        try:
            frame = parse_console_frame(text_data)
            await self._handle(frame)
        except FrameError as exc:
            await self._send(error_frame(exc.code, exc.message))
        except services.ConsoleActionError as exc:
            await self._send(
                {**error_frame(exc.code, exc.message), "conversation": getattr(frame, "conversation", None)}
            )

    async def _handle(self, frame: Any) -> None:
        if isinstance(frame, InboxFrame):
            await self._send_inbox()
        elif isinstance(frame, OpenFrame):
            await self._open(frame.conversation, frame.after_seq)
        elif isinstance(frame, HeartbeatFrame):
            await database_sync_to_async(services.operator_heartbeat)(
                operator=self.operator, seconds=settings.CHATBOT_OPERATOR_ONLINE_S
            )
        elif isinstance(frame, ContactHandledFrame):
            await database_sync_to_async(self._contact_handled)(frame.contact)
        else:
            await self._check_access(frame.conversation)
            await self._act(frame)

    async def _act(self, frame: ClaimFrame | ReplyFrame | NoteFrame | TypingFrame | ReleaseFrame | CloseFrame) -> None:
        conversation_id = frame.conversation
        if isinstance(frame, ClaimFrame):
            claim = await database_sync_to_async(services.conversation_claim)(
                conversation_id=conversation_id, operator=self.operator
            )
            await self._send(
                {"type": "claim_result", "conversation": conversation_id, "won": claim.won, "holder": claim.holder}
            )
        elif isinstance(frame, ReplyFrame):
            message = await database_sync_to_async(services.operator_message_send)(
                conversation_id=conversation_id, operator=self.operator, text=frame.text, client_id=frame.client_id
            )
            await self._send(
                {"type": "ack", "conversation": conversation_id, "client_id": frame.client_id, "seq": message.seq}
            )
        elif isinstance(frame, NoteFrame):
            await database_sync_to_async(services.note_add)(
                conversation_id=conversation_id, operator=self.operator, text=frame.text
            )
        elif isinstance(frame, TypingFrame):
            await self.channel_layer.group_send(
                events.conversation_group(conversation_id),
                events.typing_event(sender="operator", origin=self.channel_name),
            )
        elif isinstance(frame, ReleaseFrame):
            await database_sync_to_async(services.conversation_release)(
                conversation_id=conversation_id, operator=self.operator
            )
        elif isinstance(frame, CloseFrame):
            await database_sync_to_async(services.conversation_close)(
                conversation_id=conversation_id, operator=self.operator
            )

    def _contact_handled(self, contact_id: int) -> None:
        site_id = ContactRequest.objects.filter(pk=contact_id).values_list("conversation__site_id", flat=True).first()
        if site_id is None or site_id not in self.site_ids:
            raise services.ConsoleActionError("not_found", "No such contact request.")
        services.contact_request_handled(contact_id=contact_id, operator=self.operator)

    async def _check_access(self, conversation_id: int) -> None:
        site_id = await database_sync_to_async(
            lambda: Conversation.objects.filter(pk=conversation_id).values_list("site_id", flat=True).first()
        )()
        if site_id is None or site_id not in self.site_ids:
            raise services.ConsoleActionError("not_found", "No such conversation.")

    # --- the open conversation ---

    async def _open(self, conversation_id: int, after_seq: int) -> None:
        view = await database_sync_to_async(selectors.conversation_view)(
            conversation_id=conversation_id, site_ids=self.site_ids, after_seq=after_seq
        )
        if view is None:
            raise services.ConsoleActionError("not_found", "No such conversation.")
        if self.conversation_id != conversation_id:
            await self._leave()
            await self.channel_layer.group_add(events.conversation_group(conversation_id), self.channel_name)
            await self.channel_layer.group_add(events.console_conversation_group(conversation_id), self.channel_name)
        # Messages stored between the read and the group join are caught up by seq on the next event.
        self.delivery.follow(conversation_id, delivered_seq=max([after_seq, *(m["seq"] for m in view["messages"])]))
        self.conversation_status = view["conversation"]["status"]
        await self._send(view)

    async def _leave(self) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(events.conversation_group(self.conversation_id), self.channel_name)
            await self.channel_layer.group_discard(
                events.console_conversation_group(self.conversation_id), self.channel_name
            )
        self.delivery.follow(None, delivered_seq=0)

    # --- group events ---

    async def inbox_changed(self, event: dict[str, Any]) -> None:
        """A conversation on the operator's sites changed: its row is sent with the others that
        change meanwhile (`_InboxRows`); a message of the open conversation that changed is sent
        again at once."""
        self.inbox_rows.changed(event["conversation"], event["kind"])
        if event.get("seq") is not None and event["conversation"] == self.conversation_id:
            frame = await database_sync_to_async(selectors.console_message_get)(
                conversation_id=event["conversation"], seq=int(event["seq"])
            )
            if frame is not None:
                await self._send({**frame, "type": "message_update"})

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.delivery.stored(conversation_id=event["frame"]["conversation"], seq=int(event["frame"]["seq"]))

    async def chat_token(self, event: dict[str, Any]) -> None:
        # As in the widget: after a takeover no piece of a bot reply still in flight is shown.
        if self.conversation_id is not None and self.conversation_status == ConversationStatus.BOT:
            await self._send({**event["frame"], "conversation": self.conversation_id})

    async def chat_status(self, event: dict[str, Any]) -> None:
        if self.conversation_id is not None:
            self.conversation_status = event["frame"]["status"]
            await self._send({**event["frame"], "conversation": self.conversation_id})

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get(SKIP_CHANNEL) != self.channel_name and self.conversation_id is not None:
            await self._send({**event["frame"], "conversation": self.conversation_id})

    async def console_note(self, event: dict[str, Any]) -> None:
        note = await database_sync_to_async(lambda: Note.objects.filter(pk=event["note"]).first())()
        if note is not None and note.conversation_id == self.conversation_id:
            await self._send(selectors.note_frame(note))

    async def _send_inbox(self) -> None:
        rows = await database_sync_to_async(selectors.inbox_rows)(site_ids=self.site_ids)
        await self._send({"type": "inbox", "conversations": rows})
