"""Reads of conversations and messages."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from chatbot.conversations.models import Conversation, ConversationStatus, Message, Visitor


def conversation_open_for(*, visitor: Visitor) -> Conversation | None:
    """The visitor's current conversation: the newest one that is not closed."""
    return (
        Conversation.objects.filter(visitor=visitor)
        .exclude(status=ConversationStatus.CLOSED)
        .order_by("-created_at", "-pk")
        .first()
    )


def messages_after(*, conversation_id: int, after_seq: int, up_to_seq: int | None = None) -> QuerySet[Message]:
    queryset = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
    if up_to_seq is not None:
        queryset = queryset.filter(seq__lte=up_to_seq)
    return queryset.select_related("reply_to").order_by("seq")


_STORED_AFTER_SQL = f"SELECT 1 FROM {Message._meta.db_table} WHERE conversation_id = %s AND seq > %s LIMIT 1"


def message_stored_after(*, conversation_id: int, after_seq: int) -> bool:
    """Whether the conversation holds a message after `after_seq`: one indexed lookup in plain SQL,
    with no query to compile. A widget socket asks it of each conversation it has just started,
    which under a burst of new conversations cost more than their storing did through the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(_STORED_AFTER_SQL, [conversation_id, after_seq])
        return cursor.fetchone() is not None


def conversation_history(*, conversation_id: int, before_seq: int, turns: int) -> list[Message]:
    """The last `turns` messages up to and including `before_seq`, oldest first."""
    newest = Message.objects.filter(conversation_id=conversation_id, seq__lte=before_seq).order_by("-seq")[:turns]
    return list(reversed(list(newest)))
