"""Frames the console sends over its websocket (docs/console-protocol.md). Pure parsing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chatbot.conversations.frames import MAX_SEQ, ClientId, RowId, Text, parse_frame

ConversationId = RowId


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class InboxFrame(_Frame):
    """Send the inbox again (after a reconnect: rows replace what the console shows)."""

    type: Literal["inbox"]


class OpenFrame(_Frame):
    """Watch one conversation: its messages after `after_seq`, then live."""

    type: Literal["open"]
    conversation: ConversationId
    after_seq: Annotated[int, Field(ge=0, le=MAX_SEQ)] = 0


class ClaimFrame(_Frame):
    type: Literal["claim"]
    conversation: ConversationId


class ReplyFrame(_Frame):
    type: Literal["reply"]
    conversation: ConversationId
    client_id: ClientId
    text: Text


class NoteFrame(_Frame):
    type: Literal["note"]
    conversation: ConversationId
    text: Text


class TypingFrame(_Frame):
    type: Literal["typing"]
    conversation: ConversationId


class ReleaseFrame(_Frame):
    type: Literal["release"]
    conversation: ConversationId


class CloseFrame(_Frame):
    type: Literal["close"]
    conversation: ConversationId


class ContactHandledFrame(_Frame):
    type: Literal["contact_handled"]
    contact: RowId


class HeartbeatFrame(_Frame):
    type: Literal["heartbeat"]


ConsoleFrame = Annotated[
    InboxFrame
    | OpenFrame
    | ClaimFrame
    | ReplyFrame
    | NoteFrame
    | TypingFrame
    | ReleaseFrame
    | CloseFrame
    | ContactHandledFrame
    | HeartbeatFrame,
    Field(discriminator="type"),
]
_console_frame: TypeAdapter[ConsoleFrame] = TypeAdapter(ConsoleFrame)


def parse_console_frame(text: str) -> ConsoleFrame:
    return parse_frame(_console_frame, text)
