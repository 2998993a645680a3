"""Transcripts of the key's site: the exports' filters and records (chatbot.exports), a page of
conversations at a time with a cursor."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from django.db.models import F
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.params import functions as param
from pydantic import Field

from chatbot.api.auth import ApiKeyAuth, key_of
from chatbot.api.errors import ApiError
from chatbot.api_keys.models import Scope
from chatbot.conversations.models import Conversation
from chatbot.exports.filters import ExportFilterError, ExportForbidden, export_filter_for_sites
from chatbot.exports.selectors import message_jsonl_lines

router = Router(tags=["transcripts"], auth=ApiKeyAuth(Scope.TRANSCRIPTS))

PAGE_MAX = 200


class TranscriptOut(Schema):
    id: int
    site: str
    visitor: str
    status: str
    csat: int | None
    created_at: datetime
    closed_at: datetime | None
    messages: list[dict[str, Any]] = Field(description="As the messages.jsonl export writes them.")


class TranscriptPage(Schema):
    results: list[TranscriptOut]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; null on the last.")


@router.get(
    "/transcripts",
    response=TranscriptPage,
    summary="Conversations with their messages",
    description="Filters as the exports: from, to (YYYY-MM-DD, conversations started on those days), status, "
    "intent, sentiment, redact=1. Conversations in id order, `limit` at a time; follow `next_cursor`.",
)
def transcript_list(
    request: HttpRequest, cursor: str = param.Query("", max_length=20), limit: int = param.Query(50, ge=1, le=PAGE_MAX)
) -> dict[str, Any]:
    api_key = key_of(request)
    if cursor and not cursor.isdigit():
        raise ApiError(422, "validation_error", "cursor: use the next_cursor of the previous page.")
    try:
        export_filter = export_filter_for_sites(
            dict(request.GET.lists()), allowed={api_key.site_id}, ignore=("cursor", "limit")
        )
    except ExportFilterError as exc:
        raise ApiError(422, "validation_error", f"{exc.field}: {exc.message}") from exc
    except ExportForbidden as exc:
        # Only the key's own site exists for it.
        raise ApiError(404, "not_found", exc.message) from exc
    page = list(
        Conversation.objects.filter(export_filter.conversation_q(), pk__gt=int(cursor or 0))
        .order_by("pk")
        .values("id", "status", "csat", "created_at", "closed_at", visitor_id_public=F("visitor__public_id"))[
            : limit + 1
        ]
    )
    more = len(page) > limit
    page = page[:limit]
    messages: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in page}
    page_filter = dataclasses.replace(export_filter, conversation_ids=tuple(messages))
    for line in message_jsonl_lines(page_filter) if page else ():
        record = json.loads(line)
        messages[record["conversation_id"]].append(record)
    results = []
    for row in page:
        results.append(
            {
                "id": row["id"],
                "site": api_key.site.key,
                "visitor": str(row["visitor_id_public"]),
                "status": row["status"],
                "csat": row["csat"],
                "created_at": row["created_at"],
                "closed_at": row["closed_at"],
                "messages": messages[row["id"]],
            }
        )
    return {"results": results, "next_cursor": str(page[-1]["id"]) if more else None}
