"""The key's site's usage per day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from chatbot.api.auth import ApiKeyAuth, key_of
from chatbot.api.errors import ApiError
from chatbot.api_keys.models import Scope
from chatbot.usage.selectors import usage_days

router = Router(tags=["usage"], auth=ApiKeyAuth(Scope.USAGE))

MAX_DAYS = 366


class UsageQuery(Schema):
    start: date | None = Field(None, alias="from", description="first day, YYYY-MM-DD (default: 29 days before `to`)")
    end: date | None = Field(None, alias="to", description="last day, included (default: today)")


class UsageDayOut(Schema):
    date: date
    api_calls: int
    bot_answers: int
    handoffs: int
    generated_tokens: int


class UsageOut(Schema):
    days: list[UsageDayOut]


@router.get("/usage", response=UsageOut, summary="Calls, bot answers, hand-offs and tokens per day")
def usage(request: HttpRequest, query: Query[UsageQuery]) -> dict[str, Any]:
    end = query.end or timezone.localdate()
    start = query.start or end - timedelta(days=29)
    if start > end:
        raise ApiError(422, "validation_error", f"from ({start}) is after to ({end}).")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(422, "validation_error", f"Ask for at most {MAX_DAYS} days at a time.")
    return {"days": usage_days(site_id=key_of(request).site_id, start=start, end=end)}
