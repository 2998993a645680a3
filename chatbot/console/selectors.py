"""Reads for the console: inbox rows and the full view of a conversation, as JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chatbot.console.models import Note, Operator
from chatbot.conversations.frames import message_frame
from chatbot.conversations.models import ContactRequest, Conversation, ConversationStatus, Message

INBOX_CLOSED_WITHIN = timedelta(days=1)  # closed conversations stay in the inbox this long
INBOX_LIMIT = 500


def _with_inbox_fields(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-seq")
    return queryset.select_related("site", "visitor", "assignee__operator").annotate(
        last_text=Subquery(last.values("text")[:1]),
        last_sender=Subquery(last.values("sender")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
        open_contacts=Count("contact_requests", filter=Q(contact_requests__handled_at__isnull=True)),
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _assignee(conversation: Conversation) -> dict[str, Any] | None:
    user = conversation.assignee
    if user is None:
        return None
    operator = getattr(user, "operator", None)
    name = operator.name if isinstance(operator, Operator) else user.get_username()
    return {"id": user.pk, "name": name}


def inbox_row(conversation: Conversation) -> dict[str, Any]:
    """One inbox row. `conversation` comes from a queryset with the inbox annotations."""
    last_text = getattr(conversation, "last_text", None) or ""
    return {
        "id": conversation.pk,
        "site": {"id": conversation.site_id, "key": conversation.site.key, "name": conversation.site.name},
        "visitor": str(conversation.visitor.public_id)[:8],
        "status": conversation.status,
        "assignee": _assignee(conversation),
        "waiting_since": _iso(conversation.waiting_since),
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
        "last_seq": conversation.last_seq,
        "last_message": {
            "sender": getattr(conversation, "last_sender", None),
            "text": last_text[:160],
            "created_at": _iso(getattr(conversation, "last_at", None)),
        }
        if last_text
        else None,
        "open_contacts": getattr(conversation, "open_contacts", 0),
        "sentiment": conversation.sentiment,
        "sentiment_label": conversation.sentiment_label or None,
        "csat": conversation.csat,
        "escalation": conversation.escalation_reason or None,
        # The most severe complaint so far and what it is about (intents.complaints), or null.
        "complaint_category": conversation.complaint_category or None,
        "complaint_severity": conversation.complaint_severity or None,
        # The language the customer writes in (intents.languages: en, zh-hans), or null before they write.
        "language": conversation.language or None,
        "page_url": conversation.page_url,
    }


def inbox_rows(*, site_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The inbox: every conversation that is not closed, and those closed in the last day."""
    recent = timezone.now() - INBOX_CLOSED_WITHIN
    queryset = Conversation.objects.filter(site_id__in=list(site_ids)).filter(
        ~Q(status=ConversationStatus.CLOSED) | Q(closed_at__gte=recent)
    )
    return [inbox_row(c) for c in _with_inbox_fields(queryset).order_by("-updated_at")[:INBOX_LIMIT]]


def inbox_rows_get(*, conversation_ids: Iterable[int], site_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The inbox rows of these conversations (those on `site_ids`), in one query."""
    queryset = Conversation.objects.filter(pk__in=list(conversation_ids), site_id__in=list(site_ids))
    return [inbox_row(c) for c in _with_inbox_fields(queryset).order_by("pk")]


def inbox_row_get(*, conversation_id: int, site_ids: Iterable[int]) -> dict[str, Any] | None:
    rows = inbox_rows_get(conversation_ids=[conversation_id], site_ids=site_ids)
    return rows[0] if rows else None


def console_message_frame(message: Message) -> dict[str, Any]:
    """What the widget sees, and what only operators see: the gate's reason, scores, timings,
    the model version, the customer's rating, sentiment and complaint."""
    return {
        **message_frame(message),
        "sources": message.sources or [],
        "options": message.options or [],
        "decision_reason": message.decision_reason or None,
        "model_version": message.model_version or None,
        "timings": message.timings or {},
        "feedback": message.feedback or None,
        "sentiment": message.sentiment,
        "sentiment_label": message.sentiment_label or None,
        "complaint_category": message.complaint_category or None,
        "complaint_severity": message.complaint_severity or None,
        # An operator's own label for a customer message (training data for the sentiment model).
        "sentiment_corrected": getattr(getattr(message, "sentiment_correction", None), "label", None),
    }


def console_messages_after(
    *, conversation_id: int, after_seq: int, up_to_seq: int | None = None
) -> list[dict[str, Any]]:
    queryset = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
    if up_to_seq is not None:
        queryset = queryset.filter(seq__lte=up_to_seq)
    messages = queryset.select_related("reply_to", "sentiment_correction").order_by("seq")
    return [console_message_frame(m) for m in messages]


def console_message_get(*, conversation_id: int, seq: int) -> dict[str, Any] | None:
    """One message as the console shows it (after its sentiment, complaint or feedback changed)."""
    message = (
        Message.objects.filter(conversation_id=conversation_id, seq=seq)
        .select_related("reply_to", "sentiment_correction")
        .first()
    )
    return console_message_frame(message) if message is not None else None


def note_frame(note: Note) -> dict[str, Any]:
    return {
        "type": "note",
        "id": note.pk,
        "conversation": note.conversation_id,
        "author": note.author_name,
        "text": note.text,
        "created_at": _iso(note.created_at),
    }


def contact_frame(contact: ContactRequest) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "email": contact.email,
        "text": contact.text,
        "created_at": _iso(contact.created_at),
        "handled_at": _iso(contact.handled_at),
    }


def conversation_view(*, conversation_id: int, site_ids: Iterable[int], after_seq: int = 0) -> dict[str, Any] | None:
    """Everything the console shows for one conversation: its row, messages after `after_seq`,
    internal notes and contact requests."""
    row = inbox_row_get(conversation_id=conversation_id, site_ids=site_ids)
    if row is None:
        return None
    return {
        "type": "conversation_view",
        "conversation": row,
        "messages": console_messages_after(conversation_id=conversation_id, after_seq=after_seq),
        "notes": [note_frame(n) for n in Note.objects.filter(conversation_id=conversation_id)],
        "contacts": [contact_frame(c) for c in ContactRequest.objects.filter(conversation_id=conversation_id)],
    }
