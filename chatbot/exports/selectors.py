"""Reads for exports: transcripts as CSV or JSON Lines, produced row by row from a database cursor
so an export of any size runs in constant memory, and everything kept about one visitor.

Streaming: each query runs with `.iterator(chunk_size=...)`, which on PostgreSQL is a server-side
cursor, so only one chunk of rows is in memory at a time; rows are written one line at a time
through the csv module and handed on in blocks of about 64 KiB (`export_chunks`)."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.db.models import CharField, Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.utils import timezone

from chatbot.console.models import Note
from chatbot.conversations.models import ContactRequest, Conversation, Message, Sender, Visitor
from chatbot.csv_safety import starts_like_formula
from chatbot.exports.filters import ExportFilter, ExportFormat
from intents.redaction import redact

CHUNK_ROWS = 2000  # rows fetched from the cursor at a time
CHUNK_BYTES = 64 * 1024  # size of the blocks handed to the response

MESSAGE_CSV_COLUMNS = (
    "conversation_id",
    "site",
    "visitor",
    "conversation_status",
    "message_id",
    "seq",
    "sender",
    "author_name",
    "created_at",
    "text",
    "language",
    "intent",
    "confidence",
    "decision",
    "decision_reason",
    "sources",
    "model_version",
    "first_token_ms",
    "total_ms",
    "feedback",
    "sentiment",
    "sentiment_label",
    "complaint_category",
    "complaint_severity",
)

CONVERSATION_CSV_COLUMNS = (
    "conversation_id",
    "site",
    "visitor",
    "status",
    "language",
    "created_at",
    "closed_at",
    "messages",
    "handed_off_at",
    "first_human_reply_at",
    "assignee",
    "csat",
    "sentiment",
    "sentiment_label",
    "complaint_category",
    "complaint_severity",
    "page_url",
    "first_customer_message",
)


def csv_safe(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: a string starting like a formula (look-alikes
    and leading blanks included, `chatbot.csv_safety`) gets a `'` in front. Numbers are written by
    this code, never by a customer, so -0.4 stays a number."""
    if isinstance(value, str) and starts_like_formula(value):
        return "'" + value
    return value


class _Line:
    """A file-like object whose write() returns what it was given: csv.writer(...).writerow()
    then returns one formatted CSV line, with nothing buffered in between."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([csv_safe(cell) for cell in row])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: str, export_filter: ExportFilter) -> str:
    return redact(value) if export_filter.redact else value


def _message_rows(export_filter: ExportFilter) -> Iterator[Mapping[str, Any]]:
    queryset = (
        Message.objects.filter(export_filter.conversation_q("conversation__"))
        .order_by("conversation_id", "seq")
        .values(
            "conversation_id",
            "id",
            "seq",
            "sender",
            "author_name",
            "text",
            "language",
            "created_at",
            "intent",
            "confidence",
            "sources",
            "decision",
            "decision_reason",
            "model_version",
            "timings",
            "feedback",
            "sentiment",
            "sentiment_label",
            "complaint_category",
            "complaint_severity",
            site=F("conversation__site__key"),
            visitor=F("conversation__visitor__public_id"),
            conversation_status=F("conversation__status"),
            csat=F("conversation__csat"),
        )
    )
    return queryset.iterator(chunk_size=CHUNK_ROWS)


def _source_ids(sources: Any) -> str:
    if not isinstance(sources, list):
        return ""
    return ";".join(str(s["id"]) for s in sources if isinstance(s, dict) and "id" in s)


def _timing(timings: Any, name: str) -> Any:
    return timings.get(name, "") if isinstance(timings, dict) else ""


def message_csv_lines(export_filter: ExportFilter) -> Iterator[str]:
    """One CSV line per message (after the header), conversations in id order, messages in order."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for m in _message_rows(export_filter):
            yield (
                m["conversation_id"],
                m["site"],
                m["visitor"],
                m["conversation_status"],
                m["id"],
                m["seq"],
                m["sender"],
                m["author_name"],
                _iso(m["created_at"]),
                _text(m["text"], export_filter),
                m["language"],
                m["intent"],
                m["confidence"],
                m["decision"],
                _text(m["decision_reason"], export_filter),
                _source_ids(m["sources"]),
                m["model_version"],
                _timing(m["timings"], "first_token"),
                _timing(m["timings"], "total"),
                m["feedback"],
                m["sentiment"],
                m["sentiment_label"],
                m["complaint_category"],
                m["complaint_severity"],
            )

    return _csv_lines(MESSAGE_CSV_COLUMNS, rows())


def message_jsonl_lines(export_filter: ExportFilter) -> Iterator[str]:
    """One JSON object per line and message, with everything the bot decided about it. Empty
    text fields are null."""
    for m in _message_rows(export_filter):
        record = {
            "conversation_id": m["conversation_id"],
            "site": m["site"],
            "visitor": str(m["visitor"]),
            "conversation_status": m["conversation_status"],
            "csat": m["csat"],
            "message_id": m["id"],
            "seq": m["seq"],
            "sender": m["sender"],
            "author_name": m["author_name"] or None,
            "created_at": _iso(m["created_at"]),
            "text": _text(m["text"], export_filter),
            "language": m["language"] or None,
            "intent": m["intent"] or None,
            "confidence": m["confidence"],
            "sources": m["sources"] or [],
            "decision": m["decision"] or None,
            "decision_reason": _text(m["decision_reason"], export_filter) or None,
            "model_version": m["model_version"] or None,
            "timings": m["timings"] or {},
            "feedback": m["feedback"] or None,
            "sentiment": m["sentiment"],
            "sentiment_label": m["sentiment_label"] or None,
            "complaint_category": m["complaint_category"] or None,
            "complaint_severity": m["complaint_severity"] or None,
        }
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


def conversation_csv_lines(export_filter: ExportFilter) -> Iterator[str]:
    """One CSV line per conversation: its state, timestamps, size, rating, mood, worst complaint and
    opening message."""
    count = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    first_customer = Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.CUSTOMER).order_by("seq")
    # Operator.name, in SQL: the display name, else the account's full name, else its username.
    assignee = Coalesce(
        NullIf(F("assignee__operator__display_name"), Value("")),
        NullIf(Trim(Concat(F("assignee__first_name"), Value(" "), F("assignee__last_name"))), Value("")),
        F("assignee__username"),
        output_field=CharField(),
    )
    queryset = (
        Conversation.objects.filter(export_filter.conversation_q())
        .order_by("pk")
        .values(
            "id",
            "status",
            "language",
            "created_at",
            "closed_at",
            "handed_off_at",
            "first_human_reply_at",
            "csat",
            "sentiment",
            "sentiment_label",
            "complaint_category",
            "complaint_severity",
            "page_url",
            site_key=F("site__key"),
            visitor_public_id=F("visitor__public_id"),
            message_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
            first_customer_message=Subquery(first_customer.values("text")[:1]),
            assignee_name=assignee,
        )
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        for c in queryset.iterator(chunk_size=CHUNK_ROWS):
            yield (
                c["id"],
                c["site_key"],
                c["visitor_public_id"],
                c["status"],
                c["language"],
                _iso(c["created_at"]),
                _iso(c["closed_at"]),
                c["message_count"],
                _iso(c["handed_off_at"]),
                _iso(c["first_human_reply_at"]),
                c["assignee_name"],
                c["csat"],
                c["sentiment"],
                c["sentiment_label"],
                c["complaint_category"],
                c["complaint_severity"],
                _text(c["page_url"], export_filter),
                _text(c["first_customer_message"] or "", export_filter),
            )

    return _csv_lines(CONVERSATION_CSV_COLUMNS, rows())


def export_lines(*, export_format: ExportFormat, export_filter: ExportFilter) -> Iterator[str]:
    """The export's lines, produced lazily: nothing is read until the first line is asked for."""
    if export_format == ExportFormat.MESSAGES_CSV:
        return message_csv_lines(export_filter)
    if export_format == ExportFormat.CONVERSATIONS_CSV:
        return conversation_csv_lines(export_filter)
    return message_jsonl_lines(export_filter)


def export_chunks(lines: Iterable[str], *, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """UTF-8 blocks of about `size` bytes made of whole lines, so a response is written in a few
    large pieces rather than one per row."""
    buffer: list[str] = []
    length = 0
    for line in lines:
        buffer.append(line)
        length += len(line)
        if length >= size:
            yield "".join(buffer).encode()
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer).encode()


def export_filename(*, export_format: ExportFormat, site_keys: list[str]) -> str:
    """e.g. `shop-messages-2026-11-25.csv`: the site (when there is one), the kind and today's date."""
    kind, extension = export_format.value.split(".")
    prefix = f"{site_keys[0]}-" if len(site_keys) == 1 else ""
    return f"{prefix}{kind}-{timezone.localdate().isoformat()}.{extension}"


def visitor_get(*, public_id: str, site_ids: Collection[int] | None = None) -> Visitor | None:
    """The visitor with this public id (a UUID), or None, also when `public_id` is not a UUID or
    the visitor is of none of `site_ids` (None: any site, for the command line)."""
    try:
        parsed = uuid.UUID(public_id.strip())
    except (ValueError, AttributeError):
        return None
    visitors = Visitor.objects.select_related("site").filter(public_id=parsed)
    if site_ids is not None:
        visitors = visitors.filter(site_id__in=list(site_ids))
    return visitors.first()


def visitor_data_export(*, visitor: Visitor) -> dict[str, Any]:
    """Everything stored about one visitor, as JSON-ready data: their conversations with every
    message, the contact requests they left and the operators' notes on them. Not redacted: this
    is the data subject's own copy."""
    conversations = []
    for conversation in (
        Conversation.objects.filter(visitor=visitor).select_related("site", "assignee__operator").order_by("pk")
    ):
        messages = Message.objects.filter(conversation=conversation).order_by("seq")
        contacts = ContactRequest.objects.filter(conversation=conversation).order_by("created_at", "pk")
        notes = Note.objects.filter(conversation=conversation).order_by("created_at", "pk")
        assignee = conversation.assignee
        conversations.append(
            {
                "id": conversation.pk,
                "site": conversation.site.key,
                "status": conversation.status,
                "language": conversation.language or None,
                "created_at": _iso(conversation.created_at),
                "updated_at": _iso(conversation.updated_at),
                "closed_at": _iso(conversation.closed_at),
                "handed_off_at": _iso(conversation.handed_off_at),
                "first_human_reply_at": _iso(conversation.first_human_reply_at),
                "page_url": conversation.page_url,
                "user_agent": conversation.user_agent,
                "assignee": (assignee.operator.name if hasattr(assignee, "operator") else assignee.get_username())
                if assignee is not None
                else None,
                "csat": conversation.csat,
                "sentiment": conversation.sentiment,
                "sentiment_label": conversation.sentiment_label or None,
                "complaint_category": conversation.complaint_category or None,
                "complaint_severity": conversation.complaint_severity or None,
                "messages": [
                    {
                        "seq": m.seq,
                        "sender": m.sender,
                        "author_name": m.author_name or None,
                        "text": m.text,
                        "language": m.language or None,
                        "created_at": _iso(m.created_at),
                        "intent": m.intent or None,
                        "confidence": m.confidence,
                        "sources": m.sources or [],
                        "decision": m.decision or None,
                        "decision_reason": m.decision_reason or None,
                        "model_version": m.model_version or None,
                        "feedback": m.feedback or None,
                        "sentiment": m.sentiment,
                        "sentiment_label": m.sentiment_label or None,
                        "complaint_category": m.complaint_category or None,
                        "complaint_severity": m.complaint_severity or None,
                    }
                    for m in messages
                ],
                "contact_requests": [
                    {
                        "email": c.email,
                        "text": c.text,
                        "created_at": _iso(c.created_at),
                        "handled_at": _iso(c.handled_at),
                    }
                    for c in contacts
                ],
                "notes": [
                    {"author_name": n.author_name, "text": n.text, "created_at": _iso(n.created_at)} for n in notes
                ],
            }
        )
    return {
        "visitor": {
            "id": str(visitor.public_id),
            "site": visitor.site.key,
            "created_at": _iso(visitor.created_at),
            "last_seen_at": _iso(visitor.last_seen_at),
        },
        "conversations": conversations,
        "exported_at": _iso(timezone.now()),
    }
