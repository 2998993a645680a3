"""Fine-tune the sentence encoder on a site's FAQ and serve it for that site's questions.

    python manage.py encoder_finetune --site demo --tune chatbot/knowledge/demo_faq_questions.json
    python manage.py encoder_finetune --site demo --language en --epochs 5 [--force] [--json]
    python manage.py encoder_finetune --site demo --reset --tune FILE

The encoder learns to place each entry's alternatives nearest its question (in-batch negatives);
the labelled questions of `--tune` (the `gate_tune` file) are never trained on: they refit the
site's reranker and gate for the new encoder's scores, which a new encoder needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.replies.gate_tuning import LabelledQuestionsError, gate_policy_tune, labelled_questions_read
from chatbot.replies.site_encoders import site_encoder_reset, site_encoder_train
from chatbot.sites.models import Site
from intents.embedder_training import EmbedderTrainingConfig, EmbedderTrainingError


class Command(BaseCommand):
    help = "Fine-tune the sentence encoder on a site's FAQ phrasings and serve it for the site."

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = EmbedderTrainingConfig()
        parser.add_argument("--site", required=True)
        parser.add_argument("--language", help="the language whose entries to train on (default: the site's)")
        parser.add_argument("--epochs", type=int, default=defaults.epochs)
        parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
        parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--force", action="store_true", help="train even if a folder trained on the same exists")
        parser.add_argument("--reset", action="store_true", help="serve the deployment's encoder for the site again")
        parser.add_argument(
            "--tune", type=Path, help="labelled questions (the gate_tune file) to refit the site's gate on afterwards"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object on one line")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"No site with key {options['site']!r}.")
        labelled = None
        if options["tune"] is not None:
            try:
                labelled = labelled_questions_read(options["tune"])
            except LabelledQuestionsError as exc:
                raise CommandError(str(exc)) from exc
        report: dict[str, Any]
        if options["reset"]:
            report = {
                "site": site.key,
                "reset": True,
                "embedded": site_encoder_reset(site=site, language=options["language"]),
            }
        else:
            config = EmbedderTrainingConfig(
                epochs=options["epochs"],
                batch_size=options["batch_size"],
                learning_rate=options["learning_rate"],
                seed=options["seed"],
            )
            if config.epochs < 1 or config.batch_size < 2 or config.learning_rate <= 0:
                raise CommandError("--epochs must be at least 1, --batch-size at least 2, --learning-rate positive.")

            def progress(step: int, total: int, loss: float) -> None:
                if not options["json"] and (step % 10 == 0 or step == total):
                    self.stderr.write(f"step {step}/{total} loss {loss:.3f}")

            try:
                report = site_encoder_train(
                    site=site, language=options["language"], config=config, force=options["force"], progress=progress
                )
            except EmbedderTrainingError as exc:
                raise CommandError(str(exc)) from exc
        if labelled is not None:
            try:
                tuned = gate_policy_tune(site=site, labelled=labelled, apply=True, language=options["language"])
            except LabelledQuestionsError as exc:
                raise CommandError(str(exc)) from exc
            report["gate"] = {"tuned": tuned["tuned"], "tuned_out_of_sample_2fold": tuned["tuned_out_of_sample_2fold"]}
        elif not options["reset"] or report["embedded"]:
            self.stderr.write("The site's gate was fit for the previous encoder: run gate_tune (or pass --tune FILE).")
        self.stdout.write(json.dumps(report, indent=None if options["json"] else 2))
