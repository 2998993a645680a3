"""Usage counts are exact under concurrency: 50 clients at once lose no increment. Needs
PostgreSQL (concurrent writers on their own connections)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from django.db import connection
from django.utils import timezone

from chatbot.sites.models import Site
from chatbot.usage.models import Metric, UsageCounter
from chatbot.usage.selectors import usage_days
from chatbot.usage.services import usage_add, usage_bot_answer_count
from tests.api.conftest import Api
from tests.api.test_concurrency import at_once

CLIENTS = 50


def counter(site: Site, metric: str, day: date | None = None) -> int:
    row = UsageCounter.objects.filter(site=site, metric=metric, day=day or timezone.localdate()).first()
    return row.n if row else 0


@pytest.mark.django_db
def test_counts_add_up_per_site_day_and_metric(shop_site: Site, other_site: Site) -> None:
    usage_add(site_id=shop_site.pk, counts={Metric.API_CALLS: 2}, day=date(2026, 1, 1))
    usage_add(site_id=shop_site.pk, counts={Metric.API_CALLS: 3}, day=date(2026, 1, 1))
    usage_add(site_id=shop_site.pk, counts={Metric.API_CALLS: 1}, day=date(2026, 1, 2))
    usage_add(site_id=other_site.pk, counts={Metric.API_CALLS: 7}, day=date(2026, 1, 1))
    usage_bot_answer_count(site_id=shop_site.pk, decision="clarify", generated_tokens=12)
    assert counter(shop_site, Metric.API_CALLS, date(2026, 1, 1)) == 5
    assert counter(shop_site, Metric.API_CALLS, date(2026, 1, 2)) == 1
    assert counter(other_site, Metric.API_CALLS, date(2026, 1, 1)) == 7
    assert counter(shop_site, Metric.BOT_ANSWERS) == 1
    assert counter(shop_site, "bot_answers:clarify") == 1
    assert counter(shop_site, Metric.GENERATED_TOKENS) == 12
    days = usage_days(site_id=shop_site.pk, start=date(2025, 12, 31), end=date(2026, 1, 2))
    assert [(d.date.day, d.api_calls) for d in days] == [(31, 0), (1, 5), (2, 1)]


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (concurrent writers)")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_writers_lose_no_increment(shop_site: Site) -> None:
    per_client = 20

    def count(_: int) -> None:
        for _ in range(per_client):
            usage_bot_answer_count(site_id=shop_site.pk, decision="answer", generated_tokens=3)

    at_once(CLIENTS, count)
    assert counter(shop_site, Metric.BOT_ANSWERS) == CLIENTS * per_client
    assert counter(shop_site, "bot_answers:answer") == CLIENTS * per_client
    assert counter(shop_site, Metric.GENERATED_TOKENS) == 3 * CLIENTS * per_client


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_api_clients_are_each_counted(shop_site: Site, key_for: Callable[..., str]) -> None:
    key = key_for(shop_site, "usage")
    calls = 4

    def client(_: int) -> list[int]:
        api = Api(key)
        return [api.get("/usage").status_code for _ in range(calls)]

    statuses = at_once(CLIENTS, client)
    assert {code for codes in statuses for code in codes} == {200}
    assert counter(shop_site, Metric.API_CALLS) == CLIENTS * calls
