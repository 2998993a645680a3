"""Reads of the FAQ store for the console."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Count, Q, QuerySet

from chatbot.knowledge.models import FaqEntry


@dataclass(frozen=True)
class FaqCounts:
    total: int
    active: int
    inactive: int


def faq_entries_find(
    *, site_ids: Collection[int], query: str = "", site_id: int | None = None, status: str = "all"
) -> QuerySet[FaqEntry]:
    """Entries of the given sites (one of them with `site_id`), matching `query` in the question,
    alternatives, answer or tags, with `status` "active", "inactive" or "all". Newest first."""
    entries = FaqEntry.objects.filter(site_id__in=list(site_ids)).select_related("site").defer("embedding")
    if site_id is not None:
        entries = entries.filter(site_id=site_id)
    if status in ("active", "inactive"):
        entries = entries.filter(is_active=status == "active")
    for word in query.split():
        entries = entries.filter(
            Q(question__icontains=word)
            | Q(answer__icontains=word)
            | _in_json_list("alternatives", word)
            | _in_json_list("tags", word)
        )
    return entries.order_by("-updated_at", "-id")


def _in_json_list(field: str, word: str) -> Q:
    """`word` in a JSON list field, searched through the list's text. PostgreSQL's text of a jsonb
    value holds every character as it is; SQLite holds the JSON as Django wrote it, with each
    non-ASCII character escaped ("退货" as "\\u9000\\u8d27"), so the word is looked for in both forms."""
    forms = dict.fromkeys([word, json.dumps(word)[1:-1]])
    return reduce(or_, (Q(**{f"{field}__icontains": form}) for form in forms))


def faq_counts(entries: QuerySet[FaqEntry]) -> FaqCounts:
    counts = entries.order_by().aggregate(
        total=Count("id"), active=Count("id", filter=Q(is_active=True)), inactive=Count("id", filter=Q(is_active=False))
    )
    return FaqCounts(total=counts["total"], active=counts["active"], inactive=counts["inactive"])


def faq_entry_as_json(entry: FaqEntry) -> dict[str, object]:
    """An entry in the shape `faq_import` reads (`services.faq_entries_from_file`)."""
    return {
        "question": entry.question,
        "alternatives": list(entry.alternatives),
        "answer": entry.answer,
        "tags": list(entry.tags),
        "language": entry.language,
        "active": entry.is_active,
    }
