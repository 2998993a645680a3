"""`manage.py answers evaluate`: the answer-quality evaluation of a site on a question file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.answers.services import GENERATORS, EvaluationError, answers_evaluate
from chatbot.sites.models import Site
from intents.answer_quality import QuestionFileError, question_file_read, summary


class Command(BaseCommand):
    help = "Answer quality: run a question file through the reply path and score the replies."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        evaluate = commands.add_parser("evaluate", help="score a site's replies to a question file")
        evaluate.add_argument("--site", required=True, help="site key")
        evaluate.add_argument("--questions", required=True, type=Path, help="question file (JSON)")
        evaluate.add_argument("--generator", choices=GENERATORS, help="override CHATBOT_GENERATOR")
        evaluate.add_argument("--model", help="dialogue model: a registry version's name or id, or a folder")
        evaluate.add_argument("--json", action="store_true", help="print one JSON object")
        evaluate.add_argument("--replies", action="store_true", help="include every reply in the output")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with key {options['site']!r}")
        try:
            items = question_file_read(options["questions"])
            outcomes = answers_evaluate(site=site, items=items, generator=options["generator"], model=options["model"])
        except (QuestionFileError, EvaluationError) as exc:
            raise CommandError(str(exc)) from exc
        report: dict[str, Any] = {"site": site.key, "questions_file": str(options["questions"]), **summary(outcomes)}
        report["wrong"] = [o.as_json() for o in outcomes if not (o.correct or o.refused)]
        if options["replies"]:
            report["replies"] = [o.as_json() for o in outcomes]
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        for key in (
            "correct",
            "contradictions",
            "clarify_rate",
            "handoff_rate",
            "oos_refused",
            "generated_share",
            "ttft_ms_p50",
            "ttft_ms_p99",
        ):
            self.stdout.write(f"{key}: {report[key]}")
        for wrong in report["wrong"]:
            self.stdout.write(
                f"- {wrong['turns'][-1]!r} -> {wrong['decision']}: {wrong['reply'][:100]!r} {wrong['problems']}"
            )
