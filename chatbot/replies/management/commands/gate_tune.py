"""Tune a site's answer threshold and clarify margin on labelled questions.

    python manage.py gate_tune --site demo --data chatbot/knowledge/demo_faq_questions.json [--apply] [--json]
    python manage.py gate_tune --site demo --language zh-hans \
        --data chatbot/knowledge/demo_faq_questions_zh.json --apply

Each language has its own gate: `--language` tunes the one of the site's entries in that language
(default: the site's language).

The data file is JSON: {"in_scope": [{"text": ..., "question": <the FAQ entry's question>}, ...],
"out_of_scope": ["...", ...]}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.replies.gate_tuning import LabelledQuestionsError, gate_policy_tune, labelled_questions_read
from chatbot.sites.models import Site


class Command(BaseCommand):
    help = "Tune a site's gate thresholds (answer threshold, clarify margin) on labelled questions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True)
        parser.add_argument("--data", required=True, type=Path)
        parser.add_argument("--language", help="the language whose gate to tune (default: the site's)")
        parser.add_argument("--apply", action="store_true", help="save the tuned values on the site")
        parser.add_argument("--json", action="store_true", help="print one JSON object on one line")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"No site with key {options['site']!r}.")
        try:
            report = gate_policy_tune(
                site=site,
                labelled=labelled_questions_read(options["data"]),
                apply=options["apply"],
                language=options["language"],
            )
        except LabelledQuestionsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(report, indent=None if options["json"] else 2))
