"""Hot topics on the dashboard: computed from seeded questions in two windows with the real MiniLM,
stored, refreshed once per set of sites (hourly, on request, on a stale visit), shown to those who
may see the sites, and forgotten with an erased visitor. The questions: tests/analytics/hot_topics_seed.py."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatbot.analytics import tasks
from chatbot.analytics.models import HotTopic, HotTopicExample, HotTopicsReport, ReportStatus, scope_key
from chatbot.analytics.selectors import HotTopicsSummary, hot_topics_for
from chatbot.analytics.services import (
    PENDING_TIMEOUT,
    hot_topics_compute,
    hot_topics_now,
    hot_topics_refresh_all,
    hot_topics_refresh_if_stale,
    hot_topics_request,
)
from chatbot.console.models import Operator, Role
from chatbot.conversations.models import Message
from chatbot.replies import loading
from chatbot.sites.models import Site
from intents.embeddings import SentenceTransformerEmbedder
from tests.analytics import hot_topics_seed as questions

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.load()


@pytest.fixture
def embedder(minilm: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch) -> SentenceTransformerEmbedder:
    """The real model as the process's embedder (what the task and the views use), loaded once."""
    monkeypatch.setattr(loading.embedder_cache, "loaded", loading.Loaded(loading.EMBEDDER_KEY, minilm))
    return minilm


@pytest.fixture
def sites(db: None) -> dict[str, Site]:
    hot = Site.objects.create(key="hot", name="Hot shop")
    cold = Site.objects.create(key="cold", name="Cold shop")
    questions.seed(hot, cold)
    return {"hot": hot, "cold": cold}


@pytest.fixture
def queued(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Celery dispatch, with the queued report ids recorded instead of sent to a broker."""
    settings.CHATBOT_DISPATCH = "celery"
    sent: list[int] = []
    monkeypatch.setattr(tasks.hot_topics_compute, "apply_async", lambda args, **options: sent.append(*args))
    return sent


def shown(summary: HotTopicsSummary) -> list[tuple[str, int, int, str, int | None]]:
    """Each topic as (which seeded topic its questions come from, count, previous count, trend, %)."""
    groups = {"order": questions.ORDER, "password": questions.PASSWORD, "refund": questions.REFUND}
    rows = []
    for topic in summary.topics:
        (name,) = {name for name, texts in groups.items() for q in topic.questions if q in texts}
        rows.append((name, topic.count, topic.previous_count, topic.trend, topic.change_percent))
    return rows


@pytest.mark.slow
def test_a_weeks_questions_are_grouped_counted_in_both_windows_and_given_a_trend(
    sites: dict[str, Site], minilm: SentenceTransformerEmbedder
) -> None:
    report = hot_topics_now(site_ids=[sites["hot"].pk], embedder=minilm)
    assert report.status == ReportStatus.DONE
    assert report.until is not None and report.since == report.until - timedelta(days=7)
    # Small talk left out; the lone question is no topic; older questions and the other site's
    # do not count.
    assert (report.questions, report.previous_questions) == (11, 6)
    assert (report.sampled, report.previous_sampled) == (11, 6)
    summary = hot_topics_for(site_ids=[sites["hot"].pk])
    assert shown(summary) == [
        ("order", 5, 1, "rising", 400),
        ("password", 3, 5, "falling", -40),
        ("refund", 2, 0, "new", None),
    ]
    order, password, refund = summary.topics
    assert order.label == order.questions[0] and order.label in questions.ORDER
    assert len(order.questions) == 3 and set(order.questions) <= set(questions.ORDER)
    assert set(refund.questions) == set(questions.REFUND)
    # Per 24 h: the week before (one order question 8 days ago), then this week (6, 3, 1, 0, 0 days ago).
    assert (order.daily[:7], order.daily[7:]) == ([0, 0, 0, 0, 0, 1, 0], [1, 0, 0, 1, 0, 1, 2])
    assert sum(password.daily[:7]) == 5 and sum(password.daily[7:]) == 3
    assert summary.computed_at is not None and not summary.refreshing and summary.failed == ""


@pytest.mark.slow
def test_all_sites_together_count_the_questions_of_both(
    sites: dict[str, Site], minilm: SentenceTransformerEmbedder
) -> None:
    both = [sites["hot"].pk, sites["cold"].pk]
    hot_topics_now(site_ids=both, embedder=minilm)
    rows = shown(hot_topics_for(site_ids=both))
    assert rows[0] == ("order", 6, 1, "rising", 500)
    print(rows)
    assert hot_topics_for(site_ids=[sites["hot"].pk]).computed_at is None  # another set of sites


@pytest.mark.slow
def test_beyond_the_cap_a_uniform_sample_is_grouped_and_the_counts_scaled_up(
    sites: dict[str, Site], minilm: SentenceTransformerEmbedder, settings: Any
) -> None:
    settings.CHATBOT_HOT_TOPICS_MAX_QUESTIONS = 8
    report = hot_topics_now(site_ids=[sites["hot"].pk], embedder=minilm)
    assert (report.questions, report.sampled, report.previous_questions, report.previous_sampled) == (11, 8, 6, 6)
    # The sample (seed 0) holds 3 order, 3 password and 1 refund question (no topic alone); each
    # count is scaled by 11 / 8 (3 -> 4); the week before was not sampled.
    assert shown(hot_topics_for(site_ids=[sites["hot"].pk])) == [
        ("order", 4, 1, "rising", 300),
        ("password", 4, 5, "steady", -20),
    ]


def test_a_refresh_is_computed_once_per_set_of_sites_however_often_it_is_asked(
    sites: dict[str, Site], queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    hot, cold = sites["hot"].pk, sites["cold"].pk
    with django_capture_on_commit_callbacks(execute=True):
        first = hot_topics_request(site_ids=[hot])
        again = hot_topics_request(site_ids=[hot])
        other = hot_topics_request(site_ids=[cold, hot])
    assert again.pk == first.pk and other.pk != first.pk
    assert queued == [first.pk, other.pk]
    # A computation that never finished (its worker died) is given up, and a new one starts.
    HotTopicsReport.objects.filter(pk=first.pk).update(requested_at=timezone.now() - PENDING_TIMEOUT * 2)
    with django_capture_on_commit_callbacks(execute=True):
        retry = hot_topics_request(site_ids=[hot])
    assert retry.pk != first.pk and queued[-1] == retry.pk
    first.refresh_from_db()
    assert first.status == ReportStatus.FAILED and "did not finish" in first.error
    # A late delivery of the given-up report's task changes nothing.
    assert hot_topics_compute(report_id=first.pk) is None


def test_a_visit_recomputes_a_report_older_than_the_refresh_period_not_a_recent_one(
    sites: dict[str, Site], queued: list[int], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    hot = [sites["hot"].pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert hot_topics_refresh_if_stale(site_ids=hot) is not None  # none yet
        HotTopicsReport.objects.update(status=ReportStatus.DONE)
        assert hot_topics_refresh_if_stale(site_ids=hot) is None  # just computed
        HotTopicsReport.objects.update(
            requested_at=timezone.now() - timedelta(seconds=settings.CHATBOT_HOT_TOPICS_REFRESH_S + 1)
        )
        assert hot_topics_refresh_if_stale(site_ids=hot) is not None
        assert hot_topics_refresh_if_stale(site_ids=[]) is None
    assert len(queued) == 2
    # A recent failure is not retried on every visit (Refresh retries it).
    HotTopicsReport.objects.filter(status=ReportStatus.PENDING).update(status=ReportStatus.FAILED)
    assert hot_topics_refresh_if_stale(site_ids=hot) is None


def test_the_hourly_refresh_asks_for_every_active_site_and_all_sites_together(
    sites: dict[str, Site], queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    quiet = Site.objects.create(key="quiet", name="No questions")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.hot_topics_refresh_all()
    requested = {tuple(r.site_ids) for r in HotTopicsReport.objects.filter(pk__in=queued)}
    hot, cold = sites["hot"].pk, sites["cold"].pk
    assert requested == {(hot,), (cold,), tuple(sorted([hot, cold, quiet.pk]))}
    # Run again within the hour: everything is fresh (or still being computed).
    with django_capture_on_commit_callbacks(execute=True):
        assert hot_topics_refresh_all() == []
    assert len(queued) == 3


def test_the_beat_schedule_runs_the_refresh_hourly_on_the_analytics_queue(settings: Any) -> None:
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.hot_topics_refresh_all.name]
    assert entry["schedule"] == 3600.0
    assert settings.CELERY_TASK_ROUTES[tasks.hot_topics_refresh_all.name] == {"queue": "analytics"}
    assert settings.CELERY_TASK_ROUTES[tasks.hot_topics_compute.name] == {"queue": "analytics"}


@pytest.mark.slow
def test_the_task_computes_a_pending_report_and_a_second_delivery_changes_nothing(
    sites: dict[str, Site], embedder: SentenceTransformerEmbedder
) -> None:
    report = hot_topics_request(site_ids=[sites["hot"].pk], dispatch=False)
    tasks.hot_topics_compute(report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE and report.topics.count() == 3
    computed_at = report.computed_at
    tasks.hot_topics_compute(report.pk)
    report.refresh_from_db()
    assert report.computed_at == computed_at
    # The next report replaces it.
    newer = hot_topics_now(site_ids=[sites["hot"].pk])
    assert list(HotTopicsReport.objects.values_list("pk", flat=True)) == [newer.pk]


def test_a_failed_computation_is_recorded_and_said(sites: dict[str, Site], monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        model_name, dimension = "broken", 3

        def encode(self, texts: Any) -> Any:
            raise RuntimeError("out of memory")

    monkeypatch.setattr(loading.embedder_cache, "loaded", loading.Loaded(loading.EMBEDDER_KEY, Broken()))
    report = hot_topics_request(site_ids=[sites["hot"].pk], dispatch=False)
    with pytest.raises(RuntimeError):
        tasks.hot_topics_compute(report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and report.error == "RuntimeError: out of memory"
    summary = hot_topics_for(site_ids=[sites["hot"].pk])
    assert summary.failed == "RuntimeError: out of memory" and summary.computed_at is None


@pytest.mark.slow
def test_erasing_a_visitor_removes_their_question_from_the_stored_topics(
    sites: dict[str, Site], minilm: SentenceTransformerEmbedder
) -> None:
    from chatbot.exports.services import visitor_data_erase

    hot_topics_now(site_ids=[sites["hot"].pk], embedder=minilm)
    before = hot_topics_for(site_ids=[sites["hot"].pk]).topics[0]
    label = Message.objects.get(conversation__site=sites["hot"], text=before.label)
    visitor_data_erase(visitor=label.conversation.visitor)
    after = hot_topics_for(site_ids=[sites["hot"].pk]).topics[0]
    assert before.label not in after.questions
    assert after.label == before.questions[1] and after.count == before.count  # counts name nobody


@pytest.mark.slow
def test_the_command_computes_and_prints_the_topics(
    sites: dict[str, Site], embedder: SentenceTransformerEmbedder
) -> None:
    out = io.StringIO()
    call_command("hot_topics", "--site", "hot", "--json", stdout=out)
    (report,) = json.loads(out.getvalue())
    assert report["site_ids"] == [sites["hot"].pk] and report["days"] == 7
    assert [(t["count"], t["previous_count"], t["trend"]) for t in report["topics"]] == [
        (5, 1, "rising"),
        (3, 5, "falling"),
        (2, 0, "new"),
    ]
    text = io.StringIO()
    call_command("hot_topics", "--days", "3", stdout=text)  # every active site, and both together
    printed = text.getvalue()
    assert printed.count("Sites ") == 3 and "the 3 days up to" in printed
    assert "▲ +" in printed
    with pytest.raises(CommandError, match="No site with the key 'nope'"):
        call_command("hot_topics", "--site", "nope")


# The dashboard.


def signed_in(name: str, role: str, sites: list[Site], **client_options: Any) -> Client:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=name, password="unused-password-123")
    Operator.objects.create(user=user, role=role).sites.set(sites)
    client = Client(**client_options)
    client.force_login(user)
    return client


def stored_report(site: Site, topics: list[tuple[list[str], int, int, str, int | None]]) -> HotTopicsReport:
    """A computed report as the worker leaves it, without computing it."""
    now = timezone.now()
    report = HotTopicsReport.objects.create(
        scope=scope_key([site.pk]),
        site_ids=[site.pk],
        days=7,
        status=ReportStatus.DONE,
        computed_at=now,
        since=now - timedelta(days=7),
        until=now,
        questions=12,
        sampled=12,
        previous_questions=9,
        previous_sampled=9,
    )
    for rank, (texts, count, previous, trend, change) in enumerate(topics, start=1):
        topic = HotTopic.objects.create(
            report=report,
            rank=rank,
            count=count,
            previous_count=previous,
            trend=trend,
            change_percent=change,
            daily=[0] * 7 + [count] + [0] * 6,
            cohesion=0.9,
        )
        for n, text in enumerate(texts, start=1):
            HotTopicExample.objects.create(topic=topic, message=questions.ask(site, text, 1), rank=n)
    return report


@pytest.fixture
def stored(db: None) -> dict[str, Site]:
    hot = Site.objects.create(key="hot", name="Hot shop")
    cold = Site.objects.create(key="cold", name="Cold shop")
    stored_report(
        hot,
        [
            (["Where is my order?", "<b>where's</b> my order", "Has my order shipped yet?"], 8, 2, "rising", 300),
            (["I want a refund", "Can I get a refund?"], 3, 0, "new", None),
        ],
    )
    stored_report(cold, [(["Secret cold question?", "Another secret?"], 2, 2, "steady", 0)])
    return {"hot": hot, "cold": cold}


def get_hot_topics(client: Client, **params: Any) -> Any:
    return client.get(reverse("analytics:hot_topics"), params)


def test_the_dashboard_shows_the_stored_report_of_the_chosen_site(
    stored: dict[str, Site], queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in("ada", Role.OPERATOR, [stored["hot"]])
    with django_capture_on_commit_callbacks(execute=True):
        response = get_hot_topics(client, site=stored["hot"].pk)
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    assert [(t["label"], t["count"], t["previous_count"], t["trend"], t["change_percent"]) for t in body["topics"]] == [
        ("Where is my order?", 8, 2, "rising", 300),
        ("I want a refund", 3, 0, "new", None),
    ]
    assert body["topics"][0]["questions"] == [
        "Where is my order?",
        "<b>where's</b> my order",
        "Has my order shipped yet?",
    ]
    assert len(body["topics"][0]["daily"]) == 14 and body["days"] == 7 and body["questions"] == 12
    assert body["refreshing"] is False and queued == []  # fresh: nothing recomputed


def test_an_operator_never_sees_or_refreshes_another_sites_hot_topics(
    stored: dict[str, Site], queued: list[int]
) -> None:
    client = signed_in("ada", Role.OPERATOR, [stored["hot"]])
    response = get_hot_topics(client, site=stored["cold"].pk)
    assert response.status_code == 400 and "no access" in response.json()["error"]
    refresh = client.post(
        reverse("analytics:hot_topics_refresh"), {"site": stored["cold"].pk}, HTTP_ACCEPT="application/json"
    )
    assert refresh.status_code == 400 and queued == []
    # "All my sites" of this operator is the hot site alone: the same report.
    mine = get_hot_topics(client).json()
    assert mine["site_ids"] == [stored["hot"].pk] and mine["topics"][0]["label"] == "Where is my order?"
    assert Client().get(reverse("analytics:hot_topics")).status_code == 302  # to the sign-in page
    assert Client().post(reverse("analytics:hot_topics_refresh")).status_code == 302


def test_the_refresh_button_queues_the_computation_on_the_analytics_worker(
    stored: dict[str, Site], queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in("ada", Role.ADMIN, [], enforce_csrf_checks=True)
    url = reverse("analytics:hot_topics_refresh")
    assert client.post(url, {"site": stored["hot"].pk}).status_code == 403  # no CSRF token
    page = client.get(reverse("analytics:dashboard"), {"site": stored["hot"].pk})
    token = page.context["csrf_token"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"site": stored["hot"].pk, "csrfmiddlewaretoken": str(token)}, HTTP_ACCEPT="application/json"
        )
        again = client.post(
            url, {"site": stored["hot"].pk, "csrfmiddlewaretoken": str(token)}, HTTP_ACCEPT="application/json"
        )
    assert response.status_code == 202 and again.status_code == 202
    body = response.json()
    assert body["refreshing"] is True and body["topics"][0]["label"] == "Where is my order?"  # the old one, meanwhile
    pending = HotTopicsReport.objects.get(status=ReportStatus.PENDING)
    assert queued == [pending.pk] and pending.site_ids == [stored["hot"].pk]
    # Without the page's script, the form posts and comes back to the dashboard.
    back = client.post(url, {"site": stored["hot"].pk, "csrfmiddlewaretoken": str(token)})
    assert back.status_code == 302 and back["Location"] == reverse("analytics:dashboard") + f"?site={stored['hot'].pk}"


@pytest.mark.slow
def test_a_first_visit_computes_the_hot_topics_in_the_background(
    sites: dict[str, Site],
    embedder: SentenceTransformerEmbedder,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.CHATBOT_DISPATCH = "inline"
    client = signed_in("ada", Role.OPERATOR, [sites["hot"]])
    with django_capture_on_commit_callbacks(execute=True):
        first = get_hot_topics(client).json()
    assert first["refreshing"] is True and first["topics"] == [] and first["computed_at"] is None
    then = get_hot_topics(client).json()
    assert then["refreshing"] is False and [t["count"] for t in then["topics"]] == [5, 3, 2]


def test_the_page_has_the_hot_topics_panel_with_a_refresh_form(stored: dict[str, Site]) -> None:
    client = signed_in("ada", Role.OPERATOR, [stored["hot"]])
    html = client.get(reverse("analytics:dashboard"), {"site": stored["hot"].pk}).content.decode()
    assert 'data-testid="hot-topics"' in html and 'data-url="/console/analytics/hot-topics"' in html
    assert 'action="/console/analytics/hot-topics/refresh"' in html and 'name="csrfmiddlewaretoken"' in html
    assert f'<input type="hidden" name="site" value="{stored["hot"].pk}">' in html
    assert "last 7 days" in html
    assert "<script>" not in html and "style=" not in html
