"""The widget's websocket (protocol v1, docs/protocol.md): a thin adapter over the services.

Delivery guarantee: every stored message reaches this connection exactly once, in `seq` order
(chatbot.conversations.delivery).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from chatbot.channel_layers import SKIP_CHANNEL
from chatbot.conversations import events, ingest, services
from chatbot.conversations.delivery import (
    REFUSED,
    ConversationSocket,
    database_sync_to_async,
    message_frames_after,
    message_stored_after_read,
    status_frame_read,
)
from chatbot.conversations.frames import (
    PROTOCOL_VERSION,
    ContactFrame,
    FeedbackFrame,
    FrameError,
    HandoffFrame,
    MessageFrame,
    RatingFrame,
    ResumeFrame,
    TypingFrame,
    error_frame,
    message_frame,
    parse_client_frame,
)
from chatbot.conversations.limits import Event, client_address, limit_take, limited_message, limits_apply
from chatbot.conversations.models import ConversationStatus, Visitor
from chatbot.conversations.tokens import visitor_token_read
from chatbot.sites.models import Site
from chatbot.sites.origins import origin_allowed
from intents.languages import detect_language, normalise_language

logger = logging.getLogger(__name__)

RATE_LIMITED = 4429  # close code after a connection's `rate_limited` error frame (as HTTP 429)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _clean(value: str, max_length: int) -> str:
    # PostgreSQL text cannot hold NUL, and a query string can carry one (%00).
    return value.replace("\x00", "")[:max_length]


# The limiter talks to the cache (Redis in production): off the event loop, like database work.
_limit_take_in_thread = sync_to_async(limit_take, thread_sensitive=False)


async def _limit_take(event: Event, **who: Any) -> int | None:
    """`limit_take` on a thread, or nothing at all when the limits of `event` are off."""
    if not limits_apply(event, **who):
        return None
    return await _limit_take_in_thread(event, **who)


@database_sync_to_async
def _site_get(key: str) -> Site | None:
    return Site.objects.filter(key=key, is_active=True).first()


_frames_after = message_frames_after
_stored_after = message_stored_after_read
_status_frame = status_frame_read


class ChatConsumer(ConversationSocket):
    site: Site
    visitor: Visitor
    status: str = ""  # the last status this connection was told; a status frame is sent on change only
    page_url: str = ""
    user_agent: str = ""
    address: str | None = None  # what the per-IP limits count (limits.client_address)
    # The language of the followed conversation as this connection last heard (its messages are
    # detected against it); empty until it follows one.
    conversation_language: str = ""

    async def frames_after(self, conversation_id: int, after_seq: int, up_to_seq: int | None) -> list[dict[str, Any]]:
        return await _frames_after(conversation_id, after_seq, up_to_seq)

    async def connect(self) -> None:
        self.bind_server_loop()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.address = client_address(self.scope)
        # The per-address count comes before any database work, so a flood of handshakes costs none.
        if (retry_after := await _limit_take("connections", ip=self.address)) is not None:
            await self._refuse_rate_limited("connections", retry_after)
            return
        site = await _site_get(query.get("site", [""])[0])
        origin = _header(self.scope, b"origin")
        if site is None or not origin_allowed(
            origin, site.allowed_origins, own_host=_header(self.scope, b"host") if site.allow_own_origin else None
        ):
            logger.info("refused widget handshake: site=%r origin=%r", query.get("site", [""])[0], origin)
            await self.close(code=REFUSED)
            return
        token = query.get("token", [None])[0]
        visitor_id = visitor_token_read(token, site_key=site.key) if token else None
        if (retry_after := await _limit_take("connections", visitor=visitor_id, site=site.key)) is not None:
            await self._refuse_rate_limited("connections", retry_after)
            return
        self.site = site
        self.page_url = _clean(query.get("page", [""])[0], 2000)
        self.user_agent = _clean(_header(self.scope, b"user-agent") or "", 500)
        session = await database_sync_to_async(services.session_open)(site=site, token=token)
        self.visitor = session.visitor
        await self.channel_layer.group_add(events.visitor_group(self.visitor.public_id), self.channel_name)
        conversation = session.conversation
        self.status = conversation.status if conversation else ConversationStatus.BOT
        if conversation is not None:
            self.conversation_language = conversation.language or normalise_language(site.language)
        status = events.status_frame(conversation) if conversation else {"status": self.status}
        if conversation is not None:
            await self._join(conversation.pk, delivered_seq=conversation.last_seq, awaiting_resume=True)
        await self.accept()
        await self._send(
            {
                "type": "session",
                "protocol": PROTOCOL_VERSION,
                "token": session.token,
                "visitor": str(self.visitor.public_id),
                "conversation": conversation.pk if conversation else None,
                "last_seq": conversation.last_seq if conversation else 0,
                "status": self.status,
                "waiting_since": status.get("waiting_since"),
                "handoff_timeout_s": status.get("handoff_timeout_s"),
                "site": site.widget_settings(),
            }
        )
        if session.token_was_invalid:
            await self._send(
                error_frame("token_invalid", "The visitor token was invalid or expired; a new one was issued.")
            )

    async def _refuse_rate_limited(self, event: Event, retry_after: int) -> None:
        """Accepted only to say why, then closed: a refused handshake could not tell the client."""
        logger.info("rate-limited widget handshake: address=%r retry_after=%s", self.address, retry_after)
        await self.accept()
        await self._send(error_frame("rate_limited", limited_message(event, retry_after), retry_after=retry_after))
        await self.close(code=RATE_LIMITED)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "visitor"):
            return
        await self.channel_layer.group_discard(events.visitor_group(self.visitor.public_id), self.channel_name)
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(events.conversation_group(self.conversation_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._send(error_frame("binary_not_supported", "Send JSON text frames."))
            return
        try:
            frame = parse_client_frame(text_data)
        except FrameError as exc:
            await self._send(error_frame(exc.code, exc.message))
            return
        if isinstance(frame, MessageFrame | HandoffFrame | ContactFrame):
            if not await self._within_limits(frame):
                return
            # Writing without resuming: from here on the connection is live from the seq it joined at.
            self.delivery.awaiting_resume = False
        if isinstance(frame, MessageFrame):
            await self._on_message(frame)
        elif isinstance(frame, ResumeFrame):
            await self._on_resume(frame)
        elif isinstance(frame, TypingFrame):
            if self.conversation_id is not None:
                await self.channel_layer.group_send(
                    events.conversation_group(self.conversation_id),
                    events.typing_event(sender="customer", origin=self.channel_name),
                )
        elif isinstance(frame, FeedbackFrame):
            await self._on_feedback(frame)
        elif isinstance(frame, HandoffFrame):
            await self._on_handoff(frame)
        elif isinstance(frame, ContactFrame):
            await self._on_contact(frame)
        elif isinstance(frame, RatingFrame):
            await self._on_rating(frame)

    # --- client frames ---

    async def _within_limits(self, frame: MessageFrame | HandoffFrame | ContactFrame) -> bool:
        """Count a frame that stores something (and, when it would start a conversation, that too)
        against the abuse limits; past one, answer `rate_limited` and store nothing."""
        event: Event = "messages"
        retry_after = await _limit_take(event, ip=self.address, visitor=self.visitor.public_id, site=self.site.key)
        starts_conversation = self.conversation_id is None or self.status == ConversationStatus.CLOSED
        if retry_after is None and starts_conversation and not isinstance(frame, ContactFrame):
            event = "conversations"
            retry_after = await _limit_take(event, ip=self.address, visitor=self.visitor.public_id, site=self.site.key)
        if retry_after is None:
            return True
        extra = {"client_id": frame.client_id} if isinstance(frame, MessageFrame) else {}
        await self._send(
            error_frame("rate_limited", limited_message(event, retry_after), retry_after=retry_after, **extra)
        )
        return False

    async def _on_message(self, frame: MessageFrame) -> None:
        received = await self._store_with_others(frame)
        if received is None:
            received = await database_sync_to_async(services.message_receive)(
                visitor=self.visitor,
                client_id=frame.client_id,
                text=frame.text,
                page_url=self.page_url,
                user_agent=self.user_agent,
            )
        message = received.message
        self.conversation_language = message.language
        joined = self.conversation_id != message.conversation_id
        if joined:
            await self._join(message.conversation_id, delivered_seq=0, added=received.origin_joined)
            await self._send_status(events.status_frame(message.conversation))
        await self._send(
            {"type": "ack", "client_id": message.client_id, "seq": message.seq, "conversation": message.conversation_id}
        )
        await self.delivery.deliver(message_frame(message))
        if (
            joined
            and not received.origin_joined
            and await _stored_after(message.conversation_id, self.delivery.delivered_seq)
        ):
            # The reply was queued when the message was stored, before this connection joined the
            # conversation's group: a quick one was published to nobody. Read it from the database
            # (asked first in plain SQL: mostly there is nothing yet, and the read costs more).
            # Not needed where the writer joined it to the group before queuing the reply.
            await self.delivery.catch_up(up_to_seq=None)

    async def _store_with_others(self, frame: MessageFrame) -> services.Received | None:
        """The message stored by the group commit (ingest) with the other sockets' messages: to the
        conversation this connection follows, or the first of a new one when it follows none or a
        closed one. None when it takes the one-by-one path (the group commit is off, or hands it
        back)."""
        if not ingest.group_commit_enabled():
            return None
        site_language = normalise_language(self.site.language)
        starts = self.conversation_id is None or self.status == ConversationStatus.CLOSED
        known = site_language if starts else self.conversation_language
        if not known:
            return None
        item = ingest.Incoming(
            conversation_id=None if starts else self.conversation_id,
            visitor_id=self.visitor.pk,
            client_id=frame.client_id,
            text=frame.text,
            conversation_language=known,
            site_language=site_language,
            language=detect_language(frame.text, default=known),
            site_id=self.site.pk,
            visitor_public_id=str(self.visitor.public_id),
            page_url=self.page_url,
            user_agent=self.user_agent,
            channel_name=self.channel_name,
        )
        return await asyncio.wrap_future(ingest.message_submit(item))

    async def _on_resume(self, frame: ResumeFrame) -> None:
        if self.conversation_id is None:
            if frame.after_seq:
                await self._send(error_frame("no_conversation", "There is no conversation to resume yet."))
            return
        frames = await _frames_after(self.conversation_id, frame.after_seq)
        for item in frames:
            await self._send(item)
        self.delivery.resumed(delivered_seq=max([frame.after_seq, *(item["seq"] for item in frames)]))

    async def _on_feedback(self, frame: FeedbackFrame) -> None:
        if self.conversation_id is None:
            await self._send(error_frame("no_conversation", "There is no conversation yet."))
            return
        try:
            await database_sync_to_async(services.message_feedback_set)(
                conversation_id=self.conversation_id, seq=frame.seq, value=frame.value
            )
        except services.UnknownSeq as exc:
            await self._send(error_frame("unknown_seq", str(exc)))

    async def _on_handoff(self, frame: HandoffFrame) -> None:
        conversation = await database_sync_to_async(services.conversation_handoff_request)(
            visitor=self.visitor, page_url=self.page_url, user_agent=self.user_agent, language=frame.language
        )
        if self.conversation_id != conversation.pk:
            # The conversation was just created: its events went out before this connection joined.
            await self._join(conversation.pk, delivered_seq=0)
            await self._send_status(events.status_frame(conversation))
            await self.delivery.catch_up(up_to_seq=None)

    async def _on_contact(self, frame: ContactFrame) -> None:
        try:
            await database_sync_to_async(services.contact_request_leave)(
                visitor=self.visitor, email=frame.email, text=frame.text
            )
        except services.NoConversation as exc:
            await self._send(error_frame("no_conversation", str(exc)))

    async def _on_rating(self, frame: RatingFrame) -> None:
        try:
            await database_sync_to_async(services.conversation_rate)(
                visitor=self.visitor, conversation_id=frame.conversation, score=frame.score
            )
        except services.NoConversation as exc:
            await self._send(error_frame("unknown_conversation", str(exc)))
        else:
            await self._send({"type": "rated", "conversation": frame.conversation, "score": frame.score})

    # --- group events ---

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.delivery.deliver(event["frame"])

    async def chat_token(self, event: dict[str, Any]) -> None:
        # Once this connection was told a person has the conversation, pieces of a bot reply still
        # in flight are dropped: the bot's reply never shows after a takeover (the run stops too).
        if self.status == ConversationStatus.BOT:
            await self._send(event["frame"])

    async def chat_status(self, event: dict[str, Any]) -> None:
        await self._send_status(event["frame"])

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get(SKIP_CHANNEL) != self.channel_name:
            await self._send(event["frame"])

    async def chat_conversation(self, event: dict[str, Any]) -> None:
        """Another tab of this visitor started a conversation: follow it from its beginning."""
        if event["conversation"] != self.conversation_id:
            await self._join(event["conversation"], delivered_seq=0)
            await self.delivery.catch_up(up_to_seq=None)
            await self._send_status(await _status_frame(event["conversation"]))

    # --- delivery ---

    async def _join(
        self, conversation_id: int, *, delivered_seq: int, awaiting_resume: bool | None = None, added: bool = False
    ) -> None:
        """Follow `conversation_id` instead of the conversation followed so far; `added`: this
        socket is in the conversation's group already (the group commit added it)."""
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(events.conversation_group(self.conversation_id), self.channel_name)
        self.delivery.follow(conversation_id, delivered_seq=delivered_seq, awaiting_resume=awaiting_resume)
        if not added:
            await self.channel_layer.group_add(events.conversation_group(conversation_id), self.channel_name)

    async def _send_status(self, frame: dict[str, Any]) -> None:
        if frame["status"] != self.status:
            self.status = frame["status"]
            await self._send(frame)


class EchoConsumer(AsyncWebsocketConsumer):
    """A bare echo on the same server, the baseline `make bench-ws` compares the chat against."""

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)
