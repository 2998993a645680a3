"""Which conversations an export holds: the filters, read from a query string the same way for the
console's download links and for the API, and checked against the caller's sites."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from django.db.models import Q
from django.utils import timezone

from chatbot.console.access import site_ids_for
from chatbot.console.models import Operator
from chatbot.conversations.models import ConversationStatus, Message, Sender
from chatbot.sites.models import Site

# The labels the sentiment scorer gives conversations and customer messages.
SENTIMENT_LABELS = ("negative", "neutral", "positive")
_INTENT = re.compile(r"^[\w.:/-]{1,100}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ExportFormat(StrEnum):
    MESSAGES_CSV = "messages.csv"
    CONVERSATIONS_CSV = "conversations.csv"
    MESSAGES_JSONL = "messages.jsonl"


class ExportFilterError(ValueError):
    """A filter value that cannot be used; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ExportForbidden(Exception):
    """The caller asked for a site it may not see."""

    def __init__(self, site_key: str) -> None:
        super().__init__(f"You have no access to site {site_key!r}.")
        self.site_key = site_key
        self.message = str(self)


@dataclass(frozen=True)
class ExportFilter:
    """The conversations to export: those of `site_ids` (already limited to what the caller may
    see) created on `start`..`end` (days in the server's time zone, both included), with the given
    status and conversation sentiment label, and having a bot reply with the given intent. With
    `redact`, e-mail addresses, phone and card numbers in the text are replaced."""

    site_ids: tuple[int, ...]
    start: date | None = None
    end: date | None = None
    status: str | None = None
    intent: str | None = None
    sentiment: str | None = None
    redact: bool = False
    # Only these conversations (a page of them, as the REST API's /transcripts reads them); None: all.
    conversation_ids: tuple[int, ...] | None = None

    def conversation_q(self, prefix: str = "") -> Q:
        """The filter as a Q object on Conversation, or through `prefix` (e.g. "conversation__")."""
        q = Q(**{f"{prefix}site_id__in": self.site_ids})
        if self.conversation_ids is not None:
            q &= Q(**{f"{prefix}pk__in": self.conversation_ids})
        if self.start is not None:
            q &= Q(**{f"{prefix}created_at__gte": _start_of_day(self.start)})
        if self.end is not None:
            q &= Q(**{f"{prefix}created_at__lt": _start_of_day(self.end + timedelta(days=1))})
        if self.status is not None:
            q &= Q(**{f"{prefix}status": self.status})
        if self.sentiment is not None:
            q &= Q(**{f"{prefix}sentiment_label": self.sentiment})
        if self.intent is not None:
            replied = Message.objects.filter(sender=Sender.BOT, intent=self.intent).values("conversation_id")
            q &= Q(**{f"{prefix}pk__in": replied})
        return q


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _values(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    raw = params.get(name, [])
    return [v.strip() for v in ([raw] if isinstance(raw, str) else raw) if v.strip()]


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = _values(params, name)
    if len(values) > 1:
        raise ExportFilterError(name, f"Give {name} once.")
    return values[0] if values else None


def _day(params: Mapping[str, Sequence[str]], name: str) -> date | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ExportFilterError(name, f"{name}={raw!r} is not a date; use YYYY-MM-DD.") from None


def export_filter_from_params(
    params: Mapping[str, Sequence[str]], *, operator: Operator, ignore: Iterable[str] = ()
) -> ExportFilter:
    """The filter a query string asks for (`site` (repeatable), `from`, `to`, `status`, `intent`,
    `sentiment`, `redact`), for `operator`. Without `site`, every site the operator may see.

    Raises ExportFilterError for a malformed or unknown parameter (names in `ignore` are allowed
    and skipped) and ExportForbidden for a site the operator may not see or that does not exist."""
    return export_filter_for_sites(params, allowed=site_ids_for(operator), ignore=ignore)


def export_filter_for_sites(
    params: Mapping[str, Sequence[str]], *, allowed: set[int], ignore: Iterable[str] = ()
) -> ExportFilter:
    """As `export_filter_from_params`, for a caller that may see the sites `allowed` (the REST
    API's key: its own site)."""
    known = {"site", "from", "to", "status", "intent", "sentiment", "redact", *ignore}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ExportFilterError(unknown[0], f"Unknown parameter {unknown[0]!r}; use {', '.join(sorted(known))}.")

    keys = sorted(set(_values(params, "site")))
    if keys:
        sites = dict(Site.objects.filter(key__in=keys).values_list("key", "pk"))
        for key in keys:
            # The same error whether the key exists or not: a caller learns nothing of other sites.
            if sites.get(key) not in allowed:
                raise ExportForbidden(key)
        site_ids = sorted(sites[key] for key in keys)
    else:
        site_ids = sorted(allowed)

    start, end = _day(params, "from"), _day(params, "to")
    if start is not None and end is not None and start > end:
        raise ExportFilterError("from", f"from ({start}) is after to ({end}).")

    status = _one(params, "status")
    if status is not None and status not in ConversationStatus.values:
        raise ExportFilterError("status", f"Unknown status {status!r}; use {', '.join(ConversationStatus.values)}.")
    sentiment = _one(params, "sentiment")
    if sentiment is not None and sentiment not in SENTIMENT_LABELS:
        raise ExportFilterError("sentiment", f"Unknown sentiment {sentiment!r}; use {', '.join(SENTIMENT_LABELS)}.")
    intent = _one(params, "intent")
    if intent is not None and not _INTENT.match(intent):
        raise ExportFilterError("intent", "An intent is a name of up to 100 letters, digits and _ . : / -.")
    redact_raw = (_one(params, "redact") or "").lower()
    if redact_raw not in _TRUE | _FALSE:
        raise ExportFilterError("redact", f"redact={redact_raw!r} is not a boolean; use 1 or 0.")

    return ExportFilter(
        site_ids=tuple(site_ids),
        start=start,
        end=end,
        status=status,
        intent=intent,
        sentiment=sentiment,
        redact=redact_raw in _TRUE,
    )
