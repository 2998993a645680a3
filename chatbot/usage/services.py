"""Counting usage. Each count is one `INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`
(PostgreSQL and SQLite alike): the database adds under the row's lock, so no increment is lost
whatever the concurrency, and there is no read-modify-write in Python."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from chatbot.usage.models import Metric, UsageCounter


def usage_add(*, site_id: int, counts: Mapping[str, int], day: date | None = None) -> None:
    """Add `counts` ({metric: n}) to the site's counters of `day` (today, server time)."""
    rows = sorted((metric, n) for metric, n in counts.items() if n)
    if not rows:
        return
    day = day or timezone.localdate()
    table = connection.ops.quote_name(UsageCounter._meta.db_table)
    # Rows in metric order: two writers of the same metrics lock them in the same order (no deadlock).
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params: list[int | str | date] = []
    for metric, n in rows:
        params += [site_id, day, metric, n]
    sql = (
        f"INSERT INTO {table} (site_id, day, metric, n) VALUES {values} "
        f"ON CONFLICT (site_id, day, metric) DO UPDATE SET n = {table}.n + excluded.n"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def usage_api_call_count(*, site_id: int) -> None:
    usage_add(site_id=site_id, counts={Metric.API_CALLS: 1})


def usage_bot_answer_count(*, site_id: int, decision: str, generated_tokens: int) -> None:
    """One answer the bot stored, by its decision, with the tokens it streamed."""
    usage_add(
        site_id=site_id,
        counts={
            Metric.BOT_ANSWERS: 1,
            Metric.bot_answers_by(decision): 1,
            Metric.GENERATED_TOKENS: generated_tokens,
        },
    )


def usage_quota_refusal_count(*, site_id: int) -> None:
    usage_add(site_id=site_id, counts={Metric.QUOTA_REFUSALS: 1})
