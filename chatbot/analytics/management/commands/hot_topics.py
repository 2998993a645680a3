"""Compute and store the hot topics now (what the hourly task does), and print them.

python manage.py hot_topics [--site KEY] [--days N] [--json]

Without --site: one report per site with customer messages in the last two windows, and one for
all sites together when there are several (an admin's "all my sites").
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.analytics.selectors import HotTopicsSummary, hot_topics_for
from chatbot.analytics.services import hot_topics_now, hot_topics_scopes
from chatbot.sites.models import Site

ARROWS = {"new": "new", "rising": "▲", "steady": "=", "falling": "▼"}


class Command(BaseCommand):
    help = "Compute the hot topics (customer questions grouped by meaning, with their trend) and print them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", default=None, help="only this site (its key)")
        parser.add_argument(
            "--days",
            type=int,
            default=settings.CHATBOT_HOT_TOPICS_DAYS,
            help="the window, in days up to now, compared with as many days before (default %(default)s)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON list of reports")

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["days"]
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366.")
        scopes = self._scopes(options["site"], days)
        summaries = [self._compute(site_ids, days) for site_ids in scopes]
        if options["json"]:
            self.stdout.write(json.dumps([asdict(summary) for summary in summaries], indent=2))
            return
        if not summaries:
            self.stdout.write("No site has customer messages in the last two windows.")
        for summary in summaries:
            self._print(summary)

    def _scopes(self, key: str | None, days: int) -> list[list[int]]:
        if key is None:
            return hot_topics_scopes(days=days)
        site = Site.objects.filter(key=key).first()
        if site is None:
            raise CommandError(f"No site with the key {key!r}.")
        return [[site.pk]]

    def _compute(self, site_ids: list[int], days: int) -> HotTopicsSummary:
        try:
            hot_topics_now(site_ids=site_ids, days=days)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        return hot_topics_for(site_ids=site_ids)

    def _print(self, summary: HotTopicsSummary) -> None:
        names = dict(Site.objects.filter(pk__in=summary.site_ids).values_list("pk", "key"))
        sampled = f", {summary.sampled} clustered" if summary.sampled < summary.questions else ""
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"Sites {', '.join(names.get(i, str(i)) for i in summary.site_ids)}: the {summary.days} days up to "
                f"{summary.until}: {summary.questions} questions{sampled} ({summary.previous_questions} the "
                f"{summary.days} days before)"
            )
        )
        if not summary.topics:
            self.stdout.write("  no topic asked about at least twice")
        for rank, topic in enumerate(summary.topics, start=1):
            change = "" if topic.change_percent is None else f" {topic.change_percent:+d}%"
            self.stdout.write(
                f"{rank:3d}. {topic.label or '(examples erased)'}  {topic.count} (before: {topic.previous_count}) "
                f"{ARROWS[topic.trend]}{change}"
            )
            for question in topic.questions[1:]:
                self.stdout.write(f"       - {question}")
