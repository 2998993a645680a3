"""Reads for the analytics dashboard.

Every figure covers the conversations *started* in the date range (inclusive, in the given time
zone) on the given sites, and the messages of those conversations. One cohort for all figures,
so the numbers on one screen add up. Counting is done by the database; only the durations whose
median is shown come back to Python, one number per reply or conversation.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate

from chatbot.analytics.models import HotTopicExample, HotTopicsReport, ReportStatus, scope_key
from chatbot.conversations.models import Conversation, ConversationStatus, Decision, Message, Sender

MAX_RANGE_DAYS = 366
TOP_INTENTS = 10
UNANSWERED_EXAMPLES = 5  # example questions shown per unanswered cluster


@dataclass(frozen=True)
class DayCount:
    date: str  # ISO date, in the dashboard's time zone
    conversations: int


@dataclass(frozen=True)
class LabelCount:
    label: str
    count: int


@dataclass(frozen=True)
class Rate:
    """`numerator / denominator`; `value` is None when there is nothing to divide by."""

    numerator: int
    denominator: int
    value: float | None


@dataclass(frozen=True)
class Median:
    """The median of `count` values; None when there are none."""

    value: float | None
    count: int


@dataclass(frozen=True)
class ScoreCount:
    score: int
    count: int


@dataclass(frozen=True)
class Csat:
    average: float | None
    count: int
    distribution: list[ScoreCount]  # scores 1..5, zeros included
    positive: Rate  # ratings of 4 or 5 / all ratings


@dataclass(frozen=True)
class DashboardMetrics:
    """The dashboard's figures, plain values only (`dataclasses.asdict` gives JSON)."""

    start: str
    end: str
    timezone: str
    site_ids: list[int]
    conversations: int
    per_day: list[DayCount]  # every day of the range, zeros included
    closed: int
    automation: Rate  # closed without a human / closed
    handoff: Rate  # handed to the team / all conversations
    bot_replies: int
    first_token_ms: Median  # over every bot reply with a first-token timing
    first_human_reply_s: Median  # first operator reply - handoff, per handed-off conversation
    csat: Csat
    top_intents: list[LabelCount]  # bot replies per predicted intent, the TOP_INTENTS largest
    decisions: list[LabelCount]  # bot replies per gate decision: answer, clarify, handoff


def _rate(numerator: int, denominator: int) -> Rate:
    return Rate(numerator=numerator, denominator=denominator, value=numerator / denominator if denominator else None)


def _median(values: Sequence[float]) -> Median:
    return Median(value=float(statistics.median(values)) if values else None, count=len(values))


def range_bounds(*, start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants [start 00:00, the day after end 00:00) in `tz`."""
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def conversations_in_range(*, site_ids: Collection[int], start: date, end: date, tz: tzinfo) -> QuerySet[Conversation]:
    """Conversations of the sites started between `start` and `end` (inclusive) in `tz`."""
    since, until = range_bounds(start=start, end=end, tz=tz)
    return Conversation.objects.filter(site_id__in=list(site_ids), created_at__gte=since, created_at__lt=until)


def _per_day(conversations: QuerySet[Conversation], *, start: date, end: date, tz: tzinfo) -> list[DayCount]:
    rows = (
        conversations.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    counts = {day: n for day, n in rows}
    days = (end - start).days + 1
    return [
        DayCount(date=day.isoformat(), conversations=counts.get(day, 0))
        for day in (start + timedelta(days=i) for i in range(days))
    ]


def _first_token_ms(bot_replies: QuerySet[Message]) -> Median:
    # The first-token latency of every bot reply (not only each conversation's first): what a
    # customer waits for after each question. Replies stored without the timing are left out.
    raw = bot_replies.filter(timings__has_key="first_token").values_list("timings__first_token", flat=True)
    values = [float(v) for v in raw if isinstance(v, int | float) and not isinstance(v, bool)]
    return _median(values)


def _first_human_reply_s(conversations: QuerySet[Conversation]) -> Median:
    pairs = conversations.filter(handed_off_at__isnull=False, first_human_reply_at__isnull=False).values_list(
        "handed_off_at", "first_human_reply_at"
    )
    return _median([(replied - handed).total_seconds() for handed, replied in pairs if handed and replied])


def _csat(conversations: QuerySet[Conversation]) -> Csat:
    rated = conversations.filter(csat__isnull=False)
    totals = rated.aggregate(average=Avg("csat"), count=Count("pk"), positive=Count("pk", filter=Q(csat__gte=4)))
    by_score = dict(rated.values("csat").annotate(n=Count("pk")).values_list("csat", "n"))
    average = totals["average"]
    return Csat(
        average=float(average) if average is not None else None,
        count=totals["count"],
        distribution=[ScoreCount(score=score, count=by_score.get(score, 0)) for score in range(1, 6)],
        positive=_rate(totals["positive"], totals["count"]),
    )


def dashboard_metrics(*, site_ids: Collection[int], start: date, end: date, tz: tzinfo) -> DashboardMetrics:
    """The dashboard's figures for conversations started on `site_ids` between `start` and `end`
    (inclusive, calendar days in `tz`). The caller has checked the operator may see those sites."""
    if end < start:
        raise ValueError("start must not be after end")
    conversations = conversations_in_range(site_ids=site_ids, start=start, end=end, tz=tz)
    operator_replied = Exists(Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.OPERATOR))
    closed = Q(status=ConversationStatus.CLOSED)
    # "Closed without a human": never handed to the team, never answered by an operator.
    without_human = closed & Q(handed_off_at__isnull=True, first_human_reply_at__isnull=True, operator_replied=False)
    totals = conversations.alias(operator_replied=operator_replied).aggregate(
        all=Count("pk"),
        closed=Count("pk", filter=closed),
        automated=Count("pk", filter=without_human),
        handed_off=Count("pk", filter=Q(handed_off_at__isnull=False)),
    )

    bot_replies = Message.objects.filter(conversation__in=conversations, sender=Sender.BOT)
    intents = (
        bot_replies.exclude(intent="")
        .values("intent")
        .annotate(n=Count("pk"))
        .order_by("-n", "intent")
        .values_list("intent", "n")[:TOP_INTENTS]
    )
    by_decision = dict(bot_replies.values("decision").annotate(n=Count("pk")).values_list("decision", "n"))

    return DashboardMetrics(
        start=start.isoformat(),
        end=end.isoformat(),
        timezone=str(tz),
        site_ids=sorted(site_ids),
        conversations=totals["all"],
        per_day=_per_day(conversations, start=start, end=end, tz=tz),
        closed=totals["closed"],
        automation=_rate(totals["automated"], totals["closed"]),
        handoff=_rate(totals["handed_off"], totals["all"]),
        bot_replies=sum(by_decision.values()),
        first_token_ms=_first_token_ms(bot_replies),
        first_human_reply_s=_first_human_reply_s(conversations),
        csat=_csat(conversations),
        top_intents=[LabelCount(label=intent, count=n) for intent, n in intents],
        decisions=[LabelCount(label=d.value, count=by_decision.get(d.value, 0)) for d in Decision],
    )


@dataclass(frozen=True)
class ClusterSummary:
    label: str  # the most typical question
    size: int  # questions in the cluster, repeats included
    questions: list[str]  # a few distinct ones, the most typical first


def unanswered_clusters_for(
    *, site_ids: Collection[int], start: date, end: date, tz: tzinfo, limit: int = 10
) -> list[ClusterSummary]:
    """The largest groups of similar questions the bot could not answer, asked on `site_ids`
    between `start` and `end` (inclusive, in `tz`). Slow the first time in a process (it embeds
    the questions), so the dashboard loads it on its own."""
    # Imported here: clustering brings in the embedding model's code, which the rest of the
    # dashboard does not need.
    from chatbot.console.unanswered import unanswered_clusters

    # Aware datetimes, so the days are those of `tz`, not of the server (the end is excluded).
    since, until = range_bounds(start=start, end=end, tz=tz)
    clusters = unanswered_clusters(site_ids=sorted(site_ids), start=since, end=until, limit=limit)
    return [
        ClusterSummary(label=c.label, size=c.size, questions=list(dict.fromkeys(c.questions))[:UNANSWERED_EXAMPLES])
        for c in clusters
    ]


@dataclass(frozen=True)
class HotTopicSummary:
    label: str  # the most typical question still stored; "" when all its examples were erased
    questions: list[str]  # a few distinct ones, the most typical first
    count: int  # questions in the window (an estimate when the window was sampled)
    previous_count: int  # in the window of the same length before
    trend: str  # new, rising, steady or falling
    change_percent: int | None  # None when the topic was not asked the window before
    daily: list[int]  # per 24 h from the start of the previous window: 2 x days values


@dataclass(frozen=True)
class HotTopicsSummary:
    """The latest computed hot topics of a set of sites, and whether a newer report is on its way."""

    site_ids: list[int]
    computed_at: str | None  # ISO datetimes; None: never computed
    since: str | None
    until: str | None
    days: int | None
    questions: int  # in the window (small talk left out), and how many of them were clustered
    sampled: int
    previous_questions: int
    topics: list[HotTopicSummary]
    refreshing: bool  # a report is being computed
    failed: str  # the newest attempt failed, after the shown report: why


def hot_topics_for(*, site_ids: Collection[int]) -> HotTopicsSummary:
    """The newest computed hot-topics report of exactly these sites. The caller has checked the
    operator may see them."""
    ids = sorted(site_ids)
    reports = HotTopicsReport.objects.filter(scope=scope_key(ids)).order_by("-requested_at")
    newest = reports.first()
    done = reports.filter(status=ReportStatus.DONE).first()
    refreshing = newest is not None and newest.status == ReportStatus.PENDING
    failed = newest.error if newest is not None and newest.status == ReportStatus.FAILED else ""
    if done is None:
        return HotTopicsSummary(
            site_ids=ids,
            computed_at=None,
            since=None,
            until=None,
            days=None,
            questions=0,
            sampled=0,
            previous_questions=0,
            topics=[],
            refreshing=refreshing,
            failed=failed,
        )
    texts: dict[int, list[str]] = {}
    # The examples' texts are read from the messages themselves (erased ones are gone).
    for topic_id, text in (
        HotTopicExample.objects.filter(topic__report=done)
        .order_by("topic_id", "rank")
        .values_list("topic_id", "message__text")
    ):
        question = " ".join(text.split())
        if question not in texts.setdefault(topic_id, []):
            texts[topic_id].append(question)
    topics = [
        HotTopicSummary(
            label=(texts.get(topic.pk) or [""])[0],
            questions=texts.get(topic.pk, []),
            count=topic.count,
            previous_count=topic.previous_count,
            trend=topic.trend,
            change_percent=topic.change_percent,
            daily=[int(n) for n in topic.daily],
        )
        for topic in done.topics.order_by("rank")
    ]
    return HotTopicsSummary(
        site_ids=ids,
        computed_at=done.computed_at.isoformat() if done.computed_at else None,
        since=done.since.isoformat() if done.since else None,
        until=done.until.isoformat() if done.until else None,
        days=done.days,
        questions=done.questions,
        sampled=done.sampled,
        previous_questions=done.previous_questions,
        topics=topics,
        refreshing=refreshing,
        failed=failed,
    )
