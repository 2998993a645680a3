"""The dashboard's figures on the hand-checked seed in tests/analytics/seed.py."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date
from zoneinfo import ZoneInfo

import pytest

from chatbot.analytics.selectors import DashboardMetrics, dashboard_metrics, unanswered_clusters_for
from tests.analytics import seed

pytestmark = pytest.mark.django_db

START, END = date(2025, 3, 3), date(2025, 3, 7)


@pytest.fixture
def sites() -> dict[str, int]:
    return seed.seed()


def metrics(site_ids: set[int], start: date = START, end: date = END, tz: object = UTC) -> DashboardMetrics:
    return dashboard_metrics(site_ids=site_ids, start=start, end=end, tz=tz)  # type: ignore[arg-type]


def per_day(m: DashboardMetrics) -> list[tuple[str, int]]:
    return [(d.date, d.conversations) for d in m.per_day]


def test_conversations_are_counted_per_day_with_every_day_of_the_range(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]})
    # a1 a2 a3 on the 3rd, a4 a5 a6 on the 5th; a7 (the 2nd) and a8 (the 8th) are outside.
    assert per_day(m) == [("2025-03-03", 3), ("2025-03-04", 0), ("2025-03-05", 3), ("2025-03-06", 0), ("2025-03-07", 0)]
    assert m.conversations == 6


def test_days_are_calendar_days_in_the_chosen_time_zone(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]}, tz=ZoneInfo("Europe/Berlin"))
    # UTC+1: a7 (23:59 on the 2nd) falls on the 3rd, a3 (23:30 on the 3rd) on the 4th.
    assert per_day(m) == [("2025-03-03", 3), ("2025-03-04", 1), ("2025-03-05", 3), ("2025-03-06", 0), ("2025-03-07", 0)]
    assert m.conversations == 7
    assert m.timezone == "Europe/Berlin"


def test_automation_rate_is_closed_without_a_human_over_all_closed(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]})
    # Closed: a1, a2 (handed off), a4 (an operator wrote). Only a1 never had a human.
    assert m.closed == 3
    assert (m.automation.numerator, m.automation.denominator) == (1, 3)
    assert m.automation.value == pytest.approx(1 / 3)


def test_handoff_rate_is_handed_off_over_all_conversations(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]})
    assert (m.handoff.numerator, m.handoff.denominator, m.handoff.value) == (3, 6, 0.5)  # a2, a5, a6


def test_median_first_token_is_over_every_bot_reply_with_a_timing(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]})
    # 100, 300 (a1), 200 (a2), 500 (a3; its untimed reply is left out), 400 (a4), 250 (a5).
    assert m.first_token_ms.count == 6
    assert m.first_token_ms.value == 275.0
    assert m.bot_replies == 7


def test_median_first_human_reply_is_from_handoff_to_the_first_operator_message(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]})
    # a2: 120 s, a6: 600 s; a5 is still waiting and has no reply.
    assert (m.first_human_reply_s.value, m.first_human_reply_s.count) == (360.0, 2)


def test_csat_average_count_distribution_and_positive_share(sites: dict[str, int]) -> None:
    csat = metrics({sites["alpha"]}).csat
    assert csat.count == 3  # a1: 5, a2: 2, a4: 4
    assert csat.average == pytest.approx(11 / 3)
    assert [(s.score, s.count) for s in csat.distribution] == [(1, 0), (2, 1), (3, 0), (4, 1), (5, 1)]
    assert (csat.positive.numerator, csat.positive.denominator) == (2, 3)


def test_top_intents_and_decisions_count_bot_replies(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]})
    assert [(i.label, i.count) for i in m.top_intents] == [("shipping", 3), ("refund", 2), ("returns", 1)]
    assert [(d.label, d.count) for d in m.decisions] == [("answer", 4), ("clarify", 1), ("handoff", 2)]


def test_top_intents_keep_the_ten_largest(sites: dict[str, int]) -> None:
    from chatbot.conversations.models import Conversation, Message

    conversation = Conversation.objects.filter(site_id=sites["alpha"], created_at__date=START).first()
    assert conversation is not None
    for i in range(12):
        for n in range(i + 1):
            Message.objects.create(
                conversation=conversation, seq=100 + i * 20 + n, sender="bot", text=".", intent=f"i{i:02}"
            )
    labels = [i.label for i in metrics({sites["alpha"]}).top_intents]
    assert labels == [f"i{i:02}" for i in range(11, 1, -1)]


def test_a_site_never_counts_another_sites_conversations(sites: dict[str, int]) -> None:
    alpha = metrics({sites["alpha"]})
    beta = metrics({sites["beta"]})
    both = metrics({sites["alpha"], sites["beta"]})
    assert "secret-intent" not in [i.label for i in alpha.top_intents]
    assert beta.conversations == 1 and [i.label for i in beta.top_intents] == ["secret-intent"]
    assert beta.first_token_ms.value == 9999.0
    assert both.conversations == alpha.conversations + beta.conversations
    assert both.per_day[0].conversations == 4


def test_no_sites_means_no_numbers_not_every_site(sites: dict[str, int]) -> None:
    assert metrics(set()).conversations == 0


def test_an_empty_range_has_zeros_and_no_rates_rather_than_errors(sites: dict[str, int]) -> None:
    m = metrics({sites["alpha"]}, start=date(2024, 1, 1), end=date(2024, 1, 3))
    assert per_day(m) == [("2024-01-01", 0), ("2024-01-02", 0), ("2024-01-03", 0)]
    assert m.automation.value is None and m.handoff.value is None
    assert m.first_token_ms.value is None and m.first_human_reply_s.value is None
    assert m.csat.average is None and m.csat.positive.value is None
    assert m.top_intents == [] and [d.count for d in m.decisions] == [0, 0, 0]


def test_the_metrics_are_plain_json(sites: dict[str, int]) -> None:
    data = json.loads(json.dumps(asdict(metrics({sites["alpha"]}))))
    assert data["per_day"][0] == {"date": "2025-03-03", "conversations": 3}
    assert data["automation"] == {"numerator": 1, "denominator": 3, "value": pytest.approx(1 / 3)}


def test_a_start_after_the_end_is_refused() -> None:
    with pytest.raises(ValueError, match="start"):
        metrics({1}, start=END, end=START)


@pytest.mark.slow
def test_unanswered_clusters_group_the_seeded_questions_of_the_chosen_sites(sites: dict[str, int]) -> None:
    """With the real clustering and embedding model (chatbot.console.unanswered)."""
    alpha = unanswered_clusters_for(site_ids={sites["alpha"]}, start=START, end=END, tz=UTC)
    # The refund question was asked twice (a2, a5): one cluster of two, shown once.
    assert [(c.label, c.size, c.questions) for c in alpha] == [
        (seed.REFUND, 2, [seed.REFUND]),
        (seed.SHIPPING, 1, [seed.SHIPPING]),
    ]
    assert seed.HTML_QUESTION not in [c.label for c in alpha]  # beta's
    assert [c.label for c in unanswered_clusters_for(site_ids={sites["beta"]}, start=START, end=END, tz=UTC)] == [
        seed.HTML_QUESTION
    ]
    assert unanswered_clusters_for(site_ids={sites["alpha"]}, start=END, end=END, tz=UTC) == []
