"""The learning loop from the command line.

python manage.py learning dataset [--site KEY] --out PATH     the training data set, as JSONL
python manage.py learning retrain [--kinds intents,sentiment,dialogue] [--site KEY] [--json]
python manage.py learning runs [--json]
python manage.py learning golden [--rebuild KIND] [--scope SCOPE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.cli import cli_user
from chatbot.learning.golden import GoldenSetError, golden_questions_frozen, golden_set_forget
from chatbot.learning.models import GoldenSet, RunTrigger, TrainingRun
from chatbot.learning.services import (
    TrainingRunError,
    training_dataset_build,
    training_run_execute,
    training_run_request,
)
from chatbot.sites.models import Site


class Command(BaseCommand):
    help = "Build the learning data set from the logs, retrain and judge models, list runs and golden sets."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        dataset = actions.add_parser("dataset", help="write the cleaned, redacted, de-duplicated pairs as JSONL")
        dataset.add_argument("--site", default=None, help="one site's logs (its key); default every site")
        dataset.add_argument("--out", type=Path, required=True)
        retrain = actions.add_parser("retrain", help="one retraining cycle, here and now")
        retrain.add_argument("--kinds", default="intents,sentiment,dialogue", help="comma-separated")
        retrain.add_argument("--site", default=None, help="one site's logs (its key); default every site")
        retrain.add_argument("--json", action="store_true", help="print the run's report as JSON")
        runs = actions.add_parser("runs", help="the latest runs")
        runs.add_argument("--json", action="store_true")
        golden = actions.add_parser("golden", help="list the frozen golden sets, or replace one")
        golden.add_argument("--rebuild", default=None, metavar="KIND", help="drop it; the next run freezes a new one")
        golden.add_argument("--scope", default="", help="e.g. site:demo for a site's intents")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _site(self, key: str | None) -> Site | None:
        if key is None:
            return None
        site = Site.objects.filter(key=key).first()
        if site is None:
            raise CommandError(f"No site with key {key!r}.")
        return site

    def _dataset(self, options: dict[str, Any]) -> None:

        try:
            golden_texts = golden_questions_frozen()
        except GoldenSetError as exc:
            raise CommandError(str(exc)) from exc
        report = training_dataset_build(
            site=self._site(options["site"]), path=options["out"], exclude_questions=golden_texts
        )
        self.stdout.write(json.dumps({"path": str(report.path), "pairs": report.pairs, "sources": report.stats}))

    def _retrain(self, options: dict[str, Any]) -> None:

        kinds = [k.strip() for k in options["kinds"].split(",") if k.strip()]
        try:
            run = training_run_request(
                kinds=kinds,
                site=self._site(options["site"]),
                trigger=RunTrigger.COMMAND,
                requested_by=cli_user(),
                dispatch=False,
            )
        except TrainingRunError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Training run {run.pk}: {', '.join(run.kinds)}")
        run = training_run_execute(run.pk)
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(run)))
        else:
            self._print(run)
        if run.status != "succeeded":
            sys.exit(1)

    def _runs(self, options: dict[str, Any]) -> None:
        runs = list(TrainingRun.objects.select_related("site")[:20])
        if options["json"]:
            self.stdout.write(json.dumps([_as_json(run) for run in runs]))
            return
        if not runs:
            self.stdout.write("No training runs yet.")
        for run in runs:
            self._print(run)

    def _print(self, run: TrainingRun) -> None:
        self.stdout.write(
            f"run {run.pk} {run.status} ({run.trigger}, {run.created_at:%Y-%m-%d %H:%M}): "
            f"{run.dataset_stats.get('pairs', 0)} training pairs {run.error}".rstrip()
        )
        for label, report in run.results.items():
            metric = report.get("metric")
            figures = ""
            if metric:
                figures = (
                    f" {metric}: candidate {report['candidate'].get(metric)} vs {report.get('active')} "
                    f"{report['previous'].get(metric)};"
                )
            self.stdout.write(f"  {label}: {report['status']}{figures} {report.get('reason', '')}")

    def _golden(self, options: dict[str, Any]) -> None:

        if options["rebuild"]:
            if not golden_set_forget(kind=options["rebuild"], scope=options["scope"]):
                raise CommandError(f"No golden set for {options['rebuild']} {options['scope']}".strip() + ".")
            self.stdout.write("Dropped; the next run freezes a new one (its figures do not compare with earlier ones).")
            return
        for golden in GoldenSet.objects.order_by("kind", "scope"):
            self.stdout.write(
                f"{golden.kind:<10} {golden.scope or '-':<16} {golden.examples:>5} examples  "
                f"sha256 {golden.sha256[:12]}  {golden.path}"
            )


def _as_json(run: TrainingRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "site": run.site.key if run.site else None,
        "kinds": run.kinds,
        "dataset": run.dataset_stats,
        "dataset_path": run.dataset_path,
        "results": run.results,
        "error": run.error,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
