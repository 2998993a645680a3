"""Headless chat: the widget's conversation over HTTP, through the same services as the websocket
(`chatbot.conversations.services`): stored before acknowledged, one message per `client_id`,
answered by the same reply engine, gate and hand-off, seen by the same operators."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router, Schema
from ninja.params import functions as param
from ninja.responses import Status
from pydantic import Field

from chatbot.api.auth import ApiKeyAuth, key_of, quota_check
from chatbot.api.errors import ApiError
from chatbot.api_keys.models import ApiKey, Scope
from chatbot.conversations import events, services
from chatbot.conversations.delivery import Delivery, message_frames_after, status_frame_read
from chatbot.conversations.frames import MAX_SEQ, ClientId, Text, message_frame
from chatbot.conversations.models import Conversation, ConversationStatus, Message
from chatbot.conversations.selectors import messages_after

router = Router(tags=["chat"], auth=ApiKeyAuth(Scope.CHAT))

KEEP_ALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
PAGE_MAX = 500


class ConversationIn(Schema):
    page_url: str = Field("", max_length=2000, description="Where the customer is, as the widget would send it.")


class ConversationOut(Schema):
    id: int
    status: str
    visitor: str
    last_seq: int
    created_at: datetime


class MessageIn(Schema):
    client_id: ClientId = Field(description="Your id for this message: the same one again stores nothing new.")
    text: Text


class Accepted(Schema):
    seq: int
    client_id: str
    conversation: int


class Source(Schema):
    id: int | None
    question: str | None


class MessageOut(Schema):
    seq: int
    sender: str
    text: str
    sources: list[Source]
    decision: str | None
    created_at: datetime
    client_id: str | None = Field(description="The client_id a customer message was sent with.")
    reply_to: int | None = Field(description="For a reply: the seq of the message it answers.")


class MessagesOut(Schema):
    results: list[MessageOut]


class HandoffOut(Schema):
    id: int
    status: str


def _conversation_out(conversation: Conversation) -> ConversationOut:
    return ConversationOut(
        id=conversation.pk,
        status=conversation.status,
        visitor=str(conversation.visitor.public_id),
        last_seq=conversation.last_seq,
        created_at=conversation.created_at,
    )


def conversation_of(api_key: ApiKey, conversation_id: int) -> Conversation:
    """The key's site's conversation; another site's is 404, exactly like one that does not exist."""
    conversation = (
        Conversation.objects.select_related("visitor", "site")
        .filter(pk=conversation_id, site_id=api_key.site_id)
        .first()
    )
    if conversation is None:
        raise ApiError(404, "not_found", f"No conversation {conversation_id}.")
    return conversation


def _open(conversation: Conversation) -> None:
    if conversation.status == ConversationStatus.CLOSED:
        raise ApiError(409, "conversation_closed", "The conversation is closed; start a new one.")


@router.post("/conversations", response={201: ConversationOut}, summary="Start a conversation")
def conversation_create(request: HttpRequest, payload: ConversationIn | None = None) -> Status[ConversationOut]:
    conversation = services.conversation_start(
        site=key_of(request).site,
        page_url=payload.page_url if payload else "",
        user_agent=request.headers.get("User-Agent", "")[:500],
    )
    return Status(201, _conversation_out(conversation))


@router.get("/conversations/{int:conversation_id}", response=ConversationOut, summary="A conversation")
def conversation_get(request: HttpRequest, conversation_id: int) -> ConversationOut:
    return _conversation_out(conversation_of(key_of(request), conversation_id))


@router.post(
    "/conversations/{int:conversation_id}/messages",
    response={202: Accepted},
    summary="Send the customer's message",
    description="Stored before it is acknowledged; the bot's reply follows on /messages and /events. "
    "The same client_id again returns the first message's seq and is never answered twice.",
)
def message_create(request: HttpRequest, conversation_id: int, payload: MessageIn) -> Status[Accepted]:
    api_key = key_of(request)
    conversation = conversation_of(api_key, conversation_id)
    existing = Message.objects.filter(conversation=conversation, client_id=payload.client_id).first()
    if existing is None:
        _open(conversation)
        if conversation.status == ConversationStatus.BOT:
            quota_check(api_key)
        received = services.message_receive(
            visitor=conversation.visitor, client_id=payload.client_id, text=payload.text
        )
        existing = received.message
        if existing.conversation_id != conversation.pk:
            # Closed between the check and the store: the service started the visitor's next one.
            raise ApiError(409, "conversation_closed", "The conversation was closed; see the new one.")
    return Status(202, Accepted(seq=existing.seq, client_id=payload.client_id, conversation=conversation.pk))


def _message_out(message: Message) -> dict[str, Any]:
    frame = message_frame(message)
    return {key: frame[key] for key in ("seq", "sender", "text", "sources", "decision", "client_id", "reply_to")} | {
        "created_at": message.created_at
    }


@router.get("/conversations/{int:conversation_id}/messages", response=MessagesOut, summary="Messages after a seq")
def message_list(
    request: HttpRequest,
    conversation_id: int,
    after_seq: int = param.Query(0, ge=0, le=MAX_SEQ),
    limit: int = param.Query(100, ge=1, le=PAGE_MAX),
) -> dict[str, Any]:
    conversation = conversation_of(key_of(request), conversation_id)
    messages = messages_after(conversation_id=conversation.pk, after_seq=after_seq)[:limit]
    return {"results": [_message_out(m) for m in messages]}


@router.post("/conversations/{int:conversation_id}/handoff", response=HandoffOut, summary="Ask for a person")
def handoff(request: HttpRequest, conversation_id: int) -> HandoffOut:
    conversation = conversation_of(key_of(request), conversation_id)
    _open(conversation)
    conversation = services.conversation_handoff_request(visitor=conversation.visitor)
    return HandoffOut(id=conversation.pk, status=conversation.status)


# --- Server-Sent Events ---


def _sse(event: str, frame: dict[str, Any], *, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(frame, ensure_ascii=False)}\n\n"


async def event_stream(conversation_id: int, after_seq: int) -> AsyncIterator[str]:
    """The conversation's frames as the widget's socket gets them: stored messages after
    `after_seq` read from the database, then live `message`, `token` and `status` frames from the
    channel layer. Messages carry their seq as the event id, so a client that reconnects with
    Last-Event-ID misses none and gets none twice (chatbot.conversations.delivery)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = events.conversation_group(conversation_id)
    # Joined before the database is read: a message stored in between comes both ways and the
    # delivery drops the second copy by its seq.
    await layer.group_add(group, channel)
    pending: list[str] = []

    async def send(frame: dict[str, Any]) -> None:
        pending.append(_sse("message", frame, event_id=int(frame["seq"])))

    delivery = Delivery(send=send, frames_after=message_frames_after)
    delivery.follow(conversation_id, delivered_seq=after_seq, awaiting_resume=False)
    try:
        yield "retry: 2000\n\n"
        status = await status_frame_read(conversation_id)
        yield _sse("status", status)
        await delivery.catch_up(up_to_seq=None)
        while True:
            while pending:
                yield pending.pop(0)
            try:
                event = await asyncio.wait_for(layer.receive(channel), timeout=KEEP_ALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            kind = event.get("type")
            if kind == "chat.message":
                await delivery.deliver(event["frame"])
            elif kind == "chat.token" and status["status"] == ConversationStatus.BOT:
                pending.append(_sse("token", event["frame"]))
            elif kind == "chat.status" and event["frame"]["status"] != status["status"]:
                status = event["frame"]
                pending.append(_sse("status", status))
    finally:
        await layer.group_discard(group, channel)


@router.get(
    "/conversations/{int:conversation_id}/events",
    summary="Live frames (Server-Sent Events)",
    description="text/event-stream of `message` (id: its seq), `token` and `status` events, as the widget's "
    "websocket sends them. Resume after a drop with the Last-Event-ID header (or after_seq).",
    response={200: None},
    openapi_extra={"responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {}}}}},
)
async def conversation_events(
    request: HttpRequest, conversation_id: int, after_seq: int = param.Query(0, ge=0, le=MAX_SEQ)
) -> StreamingHttpResponse:
    api_key = key_of(request)
    conversation = await sync_to_async(conversation_of)(api_key, conversation_id)
    last_event_id = request.headers.get("Last-Event-ID", "").strip()
    if last_event_id:
        if not last_event_id.isdigit() or int(last_event_id) > MAX_SEQ:
            raise ApiError(422, "validation_error", "Last-Event-ID is the seq of the last message you got.")
        after_seq = int(last_event_id)
    response = StreamingHttpResponse(event_stream(conversation.pk, after_seq), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
