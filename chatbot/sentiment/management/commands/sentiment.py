"""Train, evaluate and apply the sentiment classifier.

python manage.py sentiment train --format airline|csv --data PATH [--out DIR] [--epochs N] [--register]
python manage.py sentiment evaluate --format airline|csv --data PATH [--model DIR] [--json] [--baselines]
    [--validation-split]
python manage.py sentiment backfill [--site KEY]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from chatbot.cli import ProgressBar, training_device
from chatbot.registry.selectors import model_version_active
from chatbot.registry.services import ModelRegistryError, model_version_register
from chatbot.sentiment.services import sentiment_backfill
from chatbot.sites.models import Site
from intents.datasets import DatasetError
from intents.embeddings import SentenceTransformerEmbedder
from intents.sentiment.datasets import SENTIMENT_FORMATS, SentimentDataset, load_sentiment
from intents.sentiment.scorers import EncoderSentimentScorer, LexiconSentimentScorer, SentimentScorer
from intents.sentiment.training import CLASS_WEIGHTINGS, SentimentTrainingConfig, train_sentiment_classifier


class Command(BaseCommand):
    help = "Train or evaluate a sentiment classifier on labelled data, or score stored customer messages."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        train = actions.add_parser("train", help="fine-tune and calibrate a classifier")
        evaluate = actions.add_parser("evaluate", help="score a classifier (or the lexicon) on held-out data")
        backfill = actions.add_parser("backfill", help="score stored customer messages that have no sentiment yet")
        for sub in (train, evaluate):
            sub.add_argument("--format", choices=SENTIMENT_FORMATS, required=True)
            sub.add_argument("--data", type=Path, required=True, help="the data file")
            sub.add_argument(
                "--validation-fraction", type=float, default=0.1, help="stratified share held out (seed 13)"
            )
            sub.add_argument("--max-examples", type=int, default=None, help="a stratified sample of the file")
            sub.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
        train.add_argument("--out", type=Path, default=None, help="model directory (default var/models/sentiment-…)")
        train.add_argument("--epochs", type=int, default=3)
        train.add_argument("--batch-size", type=int, default=32)
        train.add_argument("--learning-rate", type=float, default=5e-5, help="of the encoder")
        train.add_argument("--max-length", type=int, default=64, help="tokens per text")
        train.add_argument("--class-weighting", choices=CLASS_WEIGHTINGS, default="sqrt")
        train.add_argument("--no-normalise", action="store_true", help="keep @handles and links as they are")
        train.add_argument("--base-model", default=None, help="encoder path (default: the bundled MiniLM)")
        train.add_argument("--register", action="store_true", help="add the model to the registry (kind sentiment)")
        train.add_argument("--activate", action="store_true", help="with --register: serve it from now on")
        train.add_argument("--name", default=None, help="the registry name (default: sentiment-FORMAT-TIME)")
        evaluate.add_argument(
            "--model", type=Path, default=None, help="a model directory (default: the active one, else the lexicon)"
        )
        evaluate.add_argument("--json", action="store_true", help="print one JSON object")
        evaluate.add_argument(
            "--baselines",
            action="store_true",
            help="also the VADER lexicon and MiniLM embeddings + logistic regression, on the same split",
        )
        evaluate.add_argument(
            "--threads", type=int, default=1, help="CPU threads for inference (latency is reported per query)"
        )
        evaluate.add_argument(
            "--validation-split",
            action="store_true",
            help="score only the validation split (held out when training on this same file); default: every "
            "example of the file (e.g. a separate test file)",
        )
        backfill.add_argument("--site", default=None, help="only this site's messages (its key)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "backfill":
            self._backfill(options)
            return
        try:
            dataset = load_sentiment(
                options["format"],
                options["data"],
                validation_fraction=options["validation_fraction"],
                max_examples=options["max_examples"],
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        device = options["device"] or training_device(settings.CHATBOT_DEVICE)
        if options["action"] == "train":
            self._train(dataset, device, options)
        else:
            self._evaluate(dataset, device, options)

    def _train(self, dataset: SentimentDataset, device: str, options: dict[str, Any]) -> None:
        # Imported here: the figures need scikit-learn, which the other actions (backfill) do not load.
        from intents.sentiment.evaluation import evaluate_sentiment_scorer

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        name = options["name"] or f"sentiment-{options['format']}-{stamp}"
        out = options["out"] or Path(settings.BASE_DIR) / "var" / "models" / name
        config = SentimentTrainingConfig(
            epochs=options["epochs"],
            batch_size=options["batch_size"],
            encoder_learning_rate=options["learning_rate"],
            max_length=options["max_length"],
            class_weighting=options["class_weighting"],
            normalise=not options["no_normalise"],
            device=device,
            base_model=options["base_model"],
        )
        bar = ProgressBar(self.stderr._out, "training", "step")
        try:
            report = train_sentiment_classifier(dataset, out, config, bar)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(
            f"Trained on {report.examples_trained} examples in {report.seconds:.0f} s on {device}; "
            f"temperature {report.temperature}, class weights {report.class_weights}."
        )
        self.stdout.write(f"Model: {out}")
        if not options["register"]:
            return

        # The registry records how well it scored on the held-out split, measured here once.
        metrics = evaluate_sentiment_scorer(EncoderSentimentScorer.load(out, device=device), dataset.validation)
        manifest = json.loads((Path(out) / "sentiment_model.json").read_text())
        try:
            version = model_version_register(
                kind="sentiment",
                name=name,
                path=out,
                base_model=manifest["base_model"],
                manifest={"data": manifest["data"], "counts": dataset.counts(), "options": manifest["config"]},
                metrics=metrics,
                activate=options["activate"],
            )
        except ModelRegistryError as exc:
            raise CommandError(str(exc)) from exc
        state = (
            "active"
            if version.is_active
            else "not active (promote it with `manage.py models promote NAME --kind sentiment`)"
        )
        self.stdout.write(
            f"Registered sentiment/{version.name}, {state}: macro-F1 {metrics['macro_f1']}, "
            f"accuracy {metrics['accuracy']}."
        )

    def _evaluate(self, dataset: SentimentDataset, device: str, options: dict[str, Any]) -> None:
        # Imported here: torch, and scikit-learn for the figures, are heavy; backfill loads neither.
        import torch

        from intents.sentiment.evaluation import embedding_logistic_baseline, evaluate_sentiment_scorer

        torch.set_num_threads(max(1, options["threads"]))
        scorer: SentimentScorer
        model_dir = options["model"]
        if model_dir is None:
            version = model_version_active(kind="sentiment")
            model_dir = Path(version.path) if version is not None else None
        if model_dir is None:
            scorer = LexiconSentimentScorer()
        else:
            try:
                scorer = EncoderSentimentScorer.load(model_dir, device=device)
            except (FileNotFoundError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
        # A separate test file is scored whole; the validation split is for a file trained on too.
        split = "validation" if options["validation_split"] else "all"
        examples = dataset.validation if split == "validation" else (*dataset.train, *dataset.validation)
        scored = {"split": split, "examples": len(examples), "source": dataset.source}
        scores: dict[str, Any] = {
            "scorer": scorer.name,
            "scored": scored,
            **evaluate_sentiment_scorer(scorer, examples),
        }
        if options["baselines"]:
            scores["baselines"] = {"lexicon_vader": evaluate_sentiment_scorer(LexiconSentimentScorer(), examples)}
            # The logistic regression learns from the rest of the file, so it needs a held-out split.
            scores["baselines"]["minilm_embeddings_logistic_regression"] = (
                embedding_logistic_baseline(
                    dataset.train, dataset.validation, SentenceTransformerEmbedder.load(device=device)
                )
                if split == "validation"
                else {"skipped": "trained on the file itself: use --validation-split"}
            )
        if options["json"]:
            self.stdout.write(json.dumps(scores))
            return
        what = "the validation split" if split == "validation" else "every example"
        self.stdout.write(f"Scored {what} of {dataset.source} ({len(examples)} examples).")
        del scores["scored"]
        for name, value in scores.items():
            if isinstance(value, dict):
                for baseline, figures in value.items():
                    summary = ", ".join(f"{k} {v}" for k, v in figures.items())
                    self.stdout.write(f"{baseline:>20}: {summary}")
            else:
                self.stdout.write(f"{name:>20}: {value}")

    def _backfill(self, options: dict[str, Any]) -> None:

        site = None
        if options["site"]:
            site = Site.objects.filter(key=options["site"]).first()
            if site is None:
                raise CommandError(f"No site with key {options['site']!r}.")
        bar = ProgressBar(self.stderr._out, "scoring", "message")
        try:
            scored = sentiment_backfill(site=site, progress=bar)
        finally:
            bar.close()
        self.stdout.write(f"Scored {scored} customer message(s).")
