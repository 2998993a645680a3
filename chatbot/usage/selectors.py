"""Reads of usage: a site's days, an organisation's month (for invoices) and its answer quota."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from chatbot.conversations.models import Conversation
from chatbot.sites.models import Organisation, Site
from chatbot.usage.models import Metric, UsageCounter


@dataclass(frozen=True)
class UsageDay:
    date: date
    api_calls: int
    bot_answers: int
    handoffs: int
    generated_tokens: int


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _handoffs(*, site_ids: Iterable[int], start: date, end: date) -> dict[tuple[int, date], int]:
    """Conversations put in a person's hands, per site and day. Read from the conversations
    themselves (`handed_off_at`, set once) rather than counted again: exact by construction."""
    rows = (
        Conversation.objects.filter(
            site_id__in=list(site_ids), handed_off_at__date__gte=start, handed_off_at__date__lte=end
        )
        .annotate(day=TruncDate("handed_off_at", tzinfo=timezone.get_current_timezone()))
        .values("site_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["site_id"], row["day"]): row["n"] for row in rows}


def _counters(*, site_ids: Iterable[int], start: date, end: date) -> dict[tuple[int, date], dict[str, int]]:
    counts: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    for site_id, day, metric, n in UsageCounter.objects.filter(
        site_id__in=list(site_ids), day__gte=start, day__lte=end
    ).values_list("site_id", "day", "metric", "n"):
        counts[(site_id, day)][metric] = n
    return counts


def usage_days(*, site_id: int, start: date, end: date) -> list[UsageDay]:
    """Every day from `start` to `end` (both included), zeros where nothing was counted."""
    counts = _counters(site_ids=[site_id], start=start, end=end)
    handoffs = _handoffs(site_ids=[site_id], start=start, end=end)
    return [
        UsageDay(
            date=day,
            api_calls=counts[(site_id, day)].get(Metric.API_CALLS, 0),
            bot_answers=counts[(site_id, day)].get(Metric.BOT_ANSWERS, 0),
            handoffs=handoffs.get((site_id, day), 0),
            generated_tokens=counts[(site_id, day)].get(Metric.GENERATED_TOKENS, 0),
        )
        for day in _days(start, end)
    ]


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of `month`'s calendar month."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


# The columns of the monthly invoice CSV, one row per site and day.
INVOICE_COLUMNS = (
    "organisation",
    "site",
    "date",
    "api_calls",
    "bot_answers",
    "bot_answers_answer",
    "bot_answers_clarify",
    "bot_answers_handoff",
    "generated_tokens",
    "handoffs",
    "quota_refusals",
)


def usage_invoice_rows(*, organisation: Organisation, month: date) -> Iterator[tuple[object, ...]]:
    """The organisation's usage in `month`, a row per site and day (days with no use left out),
    sites by key; columns as INVOICE_COLUMNS."""
    start, end = month_bounds(month)
    sites = dict(Site.objects.filter(organisation=organisation).values_list("pk", "key"))
    counts = _counters(site_ids=sites, start=start, end=end)
    handoffs = _handoffs(site_ids=sites, start=start, end=end)
    for site_id, key in sorted(sites.items(), key=lambda item: item[1]):
        for day in _days(start, end):
            c = counts.get((site_id, day), {})
            h = handoffs.get((site_id, day), 0)
            if not c and not h:
                continue
            yield (
                organisation.slug,
                key,
                day.isoformat(),
                c.get(Metric.API_CALLS, 0),
                c.get(Metric.BOT_ANSWERS, 0),
                c.get(Metric.bot_answers_by("answer"), 0),
                c.get(Metric.bot_answers_by("clarify"), 0),
                c.get(Metric.bot_answers_by("handoff"), 0),
                c.get(Metric.GENERATED_TOKENS, 0),
                h,
                c.get(Metric.QUOTA_REFUSALS, 0),
            )


@dataclass(frozen=True)
class Quota:
    """An organisation's bot answers this month against its plan's quota (None: unlimited)."""

    used: int
    limit: int | None

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0

    @property
    def exceeded(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def quota_for(*, organisation_id: int, limit: int | None, today: date | None = None) -> Quota:
    """Bot answers of every site of the organisation since the first of this month."""
    if limit is None:
        return Quota(used=0, limit=None)
    start, _ = month_bounds(today or timezone.localdate())
    used = UsageCounter.objects.filter(
        site__organisation_id=organisation_id, metric=Metric.BOT_ANSWERS, day__gte=start
    ).aggregate(total=Sum("n"))["total"]
    return Quota(used=int(used or 0), limit=limit)


def site_quota(*, site: Site) -> Quota:
    """The quota of the site's organisation, read through its plan."""
    organisation = site.organisation
    plan = organisation.plan
    return quota_for(organisation_id=organisation.pk, limit=plan.monthly_answer_quota if plan else None)
