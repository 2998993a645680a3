"""The websocket frames of protocol v1 (docs/protocol.md): parsing what clients send, and
building what the server sends. Pure functions; no database."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from django.conf import settings
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from chatbot.conversations.models import Message

MAX_TEXT_CHARS = 4000
PROTOCOL_VERSION = 1


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: storing one would fail the whole frame with a database error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Numbers that reach the database are bounded by its columns, so an out-of-range one is a bad frame
# rather than a database error: `seq` is an integer column, row ids are bigints.
MAX_SEQ = 2**31 - 1
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(_no_nul),
]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class _Frame(BaseModel):
    # Unknown fields are ignored so newer clients keep working with this server.
    model_config = ConfigDict(extra="ignore", strict=True)


class MessageFrame(_Frame):
    type: Literal["message"]
    client_id: ClientId
    text: Text


class ResumeFrame(_Frame):
    type: Literal["resume"]
    after_seq: Annotated[int, Field(ge=0, le=MAX_SEQ)]


class TypingFrame(_Frame):
    type: Literal["typing"]


class FeedbackFrame(_Frame):
    type: Literal["feedback"]
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    value: Literal["up", "down"]


class HandoffFrame(_Frame):
    type: Literal["handoff"]
    # The widget's language (`zh-hans`): the confirmation is written in it when the customer has
    # not written anything yet.
    language: Annotated[str, StringConstraints(max_length=16, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")] = ""


class ContactFrame(_Frame):
    type: Literal["contact"]
    email: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"),
    ]
    text: Text


class RatingFrame(_Frame):
    type: Literal["rating"]
    conversation: RowId
    score: Annotated[int, Field(ge=1, le=5)]


ClientFrame = Annotated[
    MessageFrame | ResumeFrame | TypingFrame | FeedbackFrame | HandoffFrame | ContactFrame | RatingFrame,
    Field(discriminator="type"),
]
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_Parsed = TypeVar("_Parsed")


def parse_frame(adapter: TypeAdapter[_Parsed], text: str) -> _Parsed:
    """Parse one text frame with `adapter`, or raise FrameError with the protocol's error code.

    The size is checked first (`CHATBOT_WS_MAX_FRAME_BYTES`), so a huge frame costs no parsing."""
    limit = settings.CHATBOT_WS_MAX_FRAME_BYTES
    if len(text.encode("utf-8", errors="surrogatepass")) > limit:
        raise FrameError("frame_too_large", f"Frames are limited to {limit} bytes.")
    try:
        return adapter.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        kind = first["type"]
        if kind == "json_invalid":
            raise FrameError("bad_json", "The frame is not valid JSON.") from None
        if kind in ("model_attributes_type", "model_type", "dict_type"):
            raise FrameError("bad_json", "The frame must be a JSON object.") from None
        if kind in ("union_tag_not_found", "union_tag_invalid"):
            raise FrameError("unknown_type", "Unknown or missing frame type.") from None
        location = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise FrameError("bad_frame", f"{location}: {first['msg']}") from None


def parse_client_frame(text: str) -> ClientFrame:
    return parse_frame(_client_frame, text)


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


def message_frame(message: Message) -> dict[str, Any]:
    return {
        "type": "message",
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "text": message.text,
        "client_id": message.client_id,
        "reply_to": message.reply_to.seq if message.reply_to_id and message.reply_to else None,
        "sources": [{"id": s.get("id"), "question": s.get("question")} for s in message.sources or []],
        "intent": message.intent or None,
        "confidence": message.confidence,
        "handoff_offered": message.handoff_offered,
        "decision": message.decision or None,
        "options": [{"id": o.get("id"), "question": o.get("question")} for o in message.options or []],
        "author": message.author_name or None,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
