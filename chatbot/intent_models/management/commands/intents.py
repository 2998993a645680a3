"""Train and evaluate intent classifiers.

python manage.py intents train --format banking77|clinc150|bitext|csv --data PATH [--out DIR] [--epochs N]
python manage.py intents evaluate --format ... --data PATH --model DIR [--json] [--validation-split]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.cli import training_device
from chatbot.intent_models.services import site_intent_dataset
from chatbot.sites.models import Site
from intents.classifier import EncoderIntentClassifier
from intents.datasets import FORMATS, DatasetError, load
from intents.training import TrainingConfig, evaluate_intent_classifier, train_intent_classifier


class Command(BaseCommand):
    help = "Train (fine-tune, calibrate) or evaluate an intent classifier on a labelled data set."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        train = actions.add_parser("train", help="fine-tune and calibrate a classifier")
        evaluate = actions.add_parser("evaluate", help="score a trained classifier")
        for sub in (train, evaluate):
            sub.add_argument("--format", choices=FORMATS)
            sub.add_argument("--data", type=Path, help="the data file")
            sub.add_argument("--site", help="instead of a file: a site's intents and FAQ (train: and use the model)")
            sub.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
        train.add_argument("--out", type=Path, default=None, help="model directory (default var/models/intents-FORMAT)")
        train.add_argument("--epochs", type=int, default=5)
        train.add_argument("--batch-size", type=int, default=32)
        train.add_argument("--max-examples", type=int, default=None, help="train on a subset")
        train.add_argument("--base-model", default=None, help="encoder path (default: the bundled MiniLM)")
        train.add_argument(
            "--reject-rate",
            type=float,
            default=0.005,
            help="share of held-out in-scope questions the out-of-scope threshold may reject",
        )
        evaluate.add_argument("--model", required=True, type=Path, help="a directory written by `intents train`")
        evaluate.add_argument("--json", action="store_true", help="print one JSON object")
        evaluate.add_argument("--int8", action="store_true", help="int8 weights (faster on CPU)")
        evaluate.add_argument(
            "--threads", type=int, default=1, help="CPU threads for inference (latency is reported per query)"
        )
        evaluate.add_argument(
            "--validation-split",
            action="store_true",
            help="score only the validation split (held out when training on this same file); default: the "
            "whole file (its own test split for a file that has one, e.g. CLINC150)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = None
        if options["site"]:
            site = Site.objects.filter(key=options["site"]).first()
            if site is None:
                raise CommandError(f"No site with key {options['site']!r}.")
            dataset = site_intent_dataset(site=site)
            options["format"] = f"site-{site.key}"
        elif options["format"] and options["data"]:
            try:
                dataset = load(options["format"], options["data"])
            except DatasetError as exc:
                raise CommandError(str(exc)) from exc
        else:
            raise CommandError("Give --format and --data, or --site.")
        options["site_object"] = site
        device = options["device"] or training_device(settings.CHATBOT_DEVICE)
        if options["action"] == "train":
            self._train(dataset, device, options)
        else:
            self._evaluate(dataset, device, options)

    def _train(self, dataset: Any, device: str, options: dict[str, Any]) -> None:
        from tqdm import tqdm  # a training-only dependency, loaded when training

        out = options["out"] or Path(settings.BASE_DIR) / "var" / "models" / f"intents-{options['format']}"
        config = TrainingConfig(
            epochs=options["epochs"],
            batch_size=options["batch_size"],
            device=device,
            base_model=options["base_model"],
            max_examples=options["max_examples"],
            in_scope_rejection_rate=options["reject_rate"],
        )
        bar = tqdm(total=None, unit="step", desc="training", file=self.stderr._out, disable=None)

        def progress(step: int, total: int, figures: dict[str, float]) -> None:
            bar.total = total
            bar.set_postfix(epoch=int(figures["epoch"]), loss=f"{figures['loss']:.3f}")
            bar.update(1)

        report = train_intent_classifier(dataset, out, config, progress)
        bar.close()
        self.stdout.write(
            f"Trained on {report.examples_trained} examples ({len(report.labels)} labels) in {report.seconds:.0f} s "
            f"on {device}; temperature {report.temperature}, out-of-scope threshold {report.oos_threshold}."
        )
        self.stdout.write(f"Model: {out}")
        site = options["site_object"]
        if site is not None:
            site.intent_model_dir = str(Path(out).resolve())
            site.save(update_fields=["intent_model_dir"])
            self.stdout.write(f"Site {site.key} now answers with this intent model.")

    def _evaluate(self, dataset: Any, device: str, options: dict[str, Any]) -> None:
        import torch  # heavy: loaded only by the actions that run a model

        torch.set_num_threads(max(1, options["threads"]))
        model_dir = options["model"]
        if not (model_dir / "intent_model.json").is_file():
            raise CommandError(f"{model_dir} is not a model directory written by `intents train`")
        split, examples = dataset.evaluation_examples(validation_only=options["validation_split"])
        if not examples:
            raise CommandError(f"The {split} split of {dataset.source or 'the data'} is empty.")
        scores = evaluate_intent_classifier(
            EncoderIntentClassifier.load(model_dir, device=device, int8=options["int8"]), examples
        )
        scored = {"split": split, "examples": len(examples), "source": dataset.source or options["format"]}
        if options["json"]:
            self.stdout.write(json.dumps({"scored": scored, **scores}))
            return
        self.stdout.write(f"Scored {_scored_description(scored)}.")
        for name, value in scores.items():
            self.stdout.write(f"{name:>20}: {value}")


def _scored_description(scored: dict[str, Any]) -> str:
    what = {"all": "every example", "test": "the test split", "validation": "the validation split"}[scored["split"]]
    return f"{what} of {scored['source']} ({scored['examples']} examples)"
