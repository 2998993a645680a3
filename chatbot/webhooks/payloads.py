"""The `data` of each event: plain JSON, the same shape the REST API gives these records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chatbot.conversations.models import Conversation, Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def conversation_data(conversation: Conversation, *, site_key: str) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "site": site_key,
        "status": conversation.status,
        "language": conversation.language or None,
        "created_at": _iso(conversation.created_at),
        "closed_at": _iso(conversation.closed_at),
        "handed_off_at": _iso(conversation.handed_off_at),
        "csat": conversation.csat,
    }


def message_data(message: Message) -> dict[str, Any]:
    return {
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "text": message.text,
        "language": message.language or None,
        "client_id": message.client_id,
        "decision": message.decision or None,
        "intent": message.intent or None,
        "sources": [source.get("id") for source in message.sources or []],
        "created_at": _iso(message.created_at),
    }
