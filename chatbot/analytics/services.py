"""Hot topics: computing and storing what customers ask about most, and whether it is rising.

A report covers a set of sites (one site, or all the sites an operator sees) over the last
`CHATBOT_HOT_TOPICS_DAYS` days up to the moment it is computed, compared with the same number of
days before. It is requested (`hot_topics_request`: a pending row, one at a time per set of
sites) and computed off the request path (`hot_topics_compute`, a Celery task on the `analytics`
queue, a thread of the web process in the demo), hourly for every site with questions
(`hot_topics_refresh_all`, Celery beat), when an operator presses Refresh, and when the dashboard
finds the report older than `CHATBOT_HOT_TOPICS_REFRESH_S`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from chatbot.analytics.models import HotTopic, HotTopicExample, HotTopicsReport, ReportStatus, scope_key
from chatbot.conversations.models import Message, Sender
from chatbot.replies.dispatch import task_dispatch
from chatbot.replies.loading import embedder_get
from chatbot.sites.models import Site
from intents.embeddings import Embedder
from intents.topics import hot_topics, is_question, topic_vectors

logger = logging.getLogger(__name__)

TOPICS_PER_REPORT = 10
EXAMPLES_PER_TOPIC = 3
# A pending report older than this is taken for lost (its worker or the demo's process died) and
# marked failed, so that a new one can be requested.
PENDING_TIMEOUT = timedelta(minutes=15)
_SAMPLE_SEED = 0  # the same questions give the same sample, so a recomputation agrees with itself


def hot_topics_request(*, site_ids: Collection[int], days: int | None = None, dispatch: bool = True) -> HotTopicsReport:
    """Ask for a fresh report of these sites; returns the pending report: a new one, or the one
    already being computed. With `dispatch`, the computation is dispatched once the transaction
    commits; without, the caller computes it (`hot_topics_compute`)."""
    ids = sorted(set(site_ids))
    if not ids:
        raise ValueError("A hot-topics report needs at least one site.")
    scope = scope_key(ids)
    with transaction.atomic():
        HotTopicsReport.objects.filter(
            scope=scope, status=ReportStatus.PENDING, requested_at__lt=timezone.now() - PENDING_TIMEOUT
        ).update(status=ReportStatus.FAILED, error="The computation did not finish; it was given up.")
        pending = HotTopicsReport.objects.filter(scope=scope, status=ReportStatus.PENDING).first()
        if pending is not None:
            return pending
        try:
            with transaction.atomic():
                report = HotTopicsReport.objects.create(
                    scope=scope, site_ids=ids, days=days or settings.CHATBOT_HOT_TOPICS_DAYS
                )
        except IntegrityError:  # another request created it a moment ago
            return HotTopicsReport.objects.get(scope=scope, status=ReportStatus.PENDING)
        if dispatch:
            transaction.on_commit(lambda: hot_topics_dispatch(report.pk))
    return report


def hot_topics_dispatch(report_id: int) -> None:
    """Compute a pending report: on an `analytics` worker (celery), on a thread of this process
    (inprocess) or right here (inline)."""
    task_dispatch(
        "chatbot.analytics.tasks.hot_topics_compute",
        report_id,
        what="hot-topics",
        if_lost="after 15 minutes the report is taken for lost and can be requested again",
    )


def hot_topics_refresh_if_stale(*, site_ids: Collection[int]) -> HotTopicsReport | None:
    """Request a report of these sites unless one was requested less than
    `CHATBOT_HOT_TOPICS_REFRESH_S` ago (one that failed then is not retried on every page view).
    Returns the report being computed, if any."""
    if not site_ids:
        return None
    latest = HotTopicsReport.objects.filter(scope=scope_key(site_ids)).order_by("-requested_at").first()
    if latest is not None:
        pending = latest.status == ReportStatus.PENDING
        recent = PENDING_TIMEOUT if pending else timedelta(seconds=settings.CHATBOT_HOT_TOPICS_REFRESH_S)
        if latest.requested_at >= timezone.now() - recent:
            return latest if pending else None
    return hot_topics_request(site_ids=site_ids)


def hot_topics_scopes(*, days: int | None = None, now: datetime | None = None) -> list[list[int]]:
    """The sets of sites worth a report: every site with customer messages in the last two
    windows, each alone, and all the sites of an organisation together when it has several (its
    admins' "all my sites")."""
    since = (now or timezone.now()) - timedelta(days=2 * (days or settings.CHATBOT_HOT_TOPICS_DAYS))
    active = sorted(
        set(
            Message.objects.filter(sender=Sender.CUSTOMER, created_at__gte=since).values_list(
                "conversation__site_id", flat=True
            )
        )
    )
    scopes = [[site_id] for site_id in active]
    if active:
        by_organisation: dict[int, list[int]] = {}
        for site_id, organisation_id in Site.objects.order_by("pk").values_list("pk", "organisation_id"):
            by_organisation.setdefault(organisation_id, []).append(site_id)
        scopes += [site_ids for site_ids in by_organisation.values() if len(site_ids) > 1]
    return scopes


def hot_topics_refresh_all(*, now: datetime | None = None) -> list[HotTopicsReport]:
    """The periodic refresh: requests a report for each of `hot_topics_scopes`, except the sets of
    sites requested less than half a period ago (say by an operator's Refresh)."""
    now = now or timezone.now()
    scopes = hot_topics_scopes(now=now)
    recent = now - timedelta(seconds=settings.CHATBOT_HOT_TOPICS_REFRESH_S / 2)
    fresh = set(
        HotTopicsReport.objects.filter(scope__in=[scope_key(s) for s in scopes])
        .values("scope")
        .annotate(latest=Max("requested_at"))
        .filter(latest__gte=recent)
        .values_list("scope", flat=True)
    )
    return [hot_topics_request(site_ids=ids) for ids in scopes if scope_key(ids) not in fresh]


@dataclass(frozen=True)
class _Asked:
    message_id: int
    at: datetime
    text: str  # whitespace collapsed


def _questions(site_ids: Sequence[int], since: datetime, until: datetime) -> list[_Asked]:
    """The customer questions of the sites in [since, until), newest first, small talk left out."""
    rows = (
        Message.objects.filter(
            sender=Sender.CUSTOMER, conversation__site_id__in=site_ids, created_at__gte=since, created_at__lt=until
        )
        .order_by("-created_at", "-id")
        .values_list("id", "created_at", "text")
    )
    asked = []
    for message_id, at, raw in rows.iterator(chunk_size=2000):
        text = " ".join(raw.split())
        if is_question(text):
            asked.append(_Asked(message_id, at, text))
    return asked


def _sample(questions: list[_Asked], cap: int) -> list[_Asked]:
    """At most `cap` of the questions, chosen uniformly over the window (newest first still).
    Not simply the newest `cap`: the daily counts and the comparison with the previous window
    would then cover only the window's last days."""
    if len(questions) <= cap:
        return questions
    chosen = random.Random(_SAMPLE_SEED).sample(range(len(questions)), cap)
    return [questions[i] for i in sorted(chosen)]


def _day(at: datetime, since: datetime, days: int) -> int:
    return min(days - 1, max(0, (at - since) // timedelta(days=1)))


def hot_topics_compute(*, report_id: int, embedder: Embedder | None = None) -> HotTopicsReport | None:
    """Compute a pending report and store its topics; replaces the older reports of its sites.
    Returns None when the report is no longer pending (done by an earlier delivery of the task,
    or given up). Idempotent otherwise: a second run recomputes the same window's figures."""
    report = HotTopicsReport.objects.filter(pk=report_id, status=ReportStatus.PENDING).first()
    if report is None:
        return None
    started = time.perf_counter()
    try:
        _compute(report, embedder=embedder)
    except Exception as exc:
        HotTopicsReport.objects.filter(pk=report.pk, status=ReportStatus.PENDING).update(
            status=ReportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:500]
        )
        raise
    logger.info(
        "hot topics of sites %s: %d questions (%d clustered), %d topics in %.1f s",
        report.site_ids,
        report.questions,
        report.sampled,
        report.topics.count(),
        time.perf_counter() - started,
    )
    return report


def _compute(report: HotTopicsReport, *, embedder: Embedder | None) -> None:
    days = report.days
    until = timezone.now()
    since = until - timedelta(days=days)
    previous_since = since - timedelta(days=days)
    site_ids = [int(i) for i in report.site_ids]
    current_all = _questions(site_ids, since, until)
    previous_all = _questions(site_ids, previous_since, since)
    cap = settings.CHATBOT_HOT_TOPICS_MAX_QUESTIONS
    current, previous = _sample(current_all, cap), _sample(previous_all, cap)

    topics = []
    if current:
        if embedder is None:
            embedder = embedder_get()
        # Each distinct text is embedded once (repeats still count). The vectors are used here and
        # never stored: embeddings can be turned back into text, and erasure must leave no copy.
        distinct = list(dict.fromkeys(q.text for q in (*current, *previous)))
        # A Chinese question is placed by its words, in columns of its own (`topic_vectors`).
        terms = [
            t for ts in Site.objects.filter(pk__in=site_ids).values_list("segmentation_terms", flat=True) for t in ts
        ]
        vectors = topic_vectors(distinct, embedder.encode(distinct), terms)
        row = {text: i for i, text in enumerate(distinct)}
        topics = hot_topics(
            [q.text for q in current],
            vectors[[row[q.text] for q in current]],
            [_day(q.at, since, days) for q in current],
            vectors[[row[q.text] for q in previous]] if previous else np.zeros((0, vectors.shape[1])),
            [_day(q.at, previous_since, days) for q in previous],
            window_days=days,
            scale=len(current_all) / len(current),
            previous_scale=len(previous_all) / len(previous) if previous else 1.0,
            limit=TOPICS_PER_REPORT,
            representatives=EXAMPLES_PER_TOPIC,
        )

    with transaction.atomic():
        # Two runs of one report (a redelivered task) store one after the other.
        HotTopicsReport.objects.select_for_update().filter(pk=report.pk).first()
        report.since, report.until, report.computed_at = since, until, timezone.now()
        report.questions, report.previous_questions = len(current_all), len(previous_all)
        report.sampled, report.previous_sampled = len(current), len(previous)
        report.status, report.error = ReportStatus.DONE, ""
        report.save()
        report.topics.all().delete()  # from an interrupted earlier run of the same report
        for rank, topic in enumerate(topics, start=1):
            stored = HotTopic.objects.create(
                report=report,
                rank=rank,
                count=topic.count,
                previous_count=topic.previous_count,
                trend=topic.trend.direction.value,
                change_percent=topic.trend.change_percent,
                daily=list(topic.daily),
                cohesion=topic.cohesion,
            )
            HotTopicExample.objects.bulk_create(
                HotTopicExample(topic=stored, message_id=current[index].message_id, rank=n)
                for n, index in enumerate(topic.representatives, start=1)
            )
        HotTopicsReport.objects.filter(scope=report.scope, requested_at__lt=report.requested_at).exclude(
            status=ReportStatus.PENDING
        ).delete()


def hot_topics_now(
    *, site_ids: Collection[int], days: int | None = None, embedder: Embedder | None = None
) -> HotTopicsReport:
    """Request and compute a report right here (the management command, the demo)."""
    days = days or settings.CHATBOT_HOT_TOPICS_DAYS
    report = hot_topics_request(site_ids=site_ids, days=days, dispatch=False)
    if report.days != days:
        raise RuntimeError(f"A {report.days}-day report of these sites is being computed; try again when it is done.")
    # A report already pending is computed here as well: harmless, the last run's topics stay.
    computed = hot_topics_compute(report_id=report.pk, embedder=embedder)
    if computed is None:
        computed = HotTopicsReport.objects.get(pk=report.pk)
    return computed
