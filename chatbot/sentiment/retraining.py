"""Retraining the shared sentiment model (settings.CHATBOT_RETRAINERS["sentiment"])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from chatbot.registry.models import ModelKind
from chatbot.registry.retraining import Candidate, Progress, SkipTarget, Target, TrainingData
from chatbot.registry.selectors import model_version_active
from chatbot.sites.models import Site
from intents.encoder_training import BUNDLED_BASE
from intents.learning import PromotionRule, normalised
from intents.redaction import redact
from intents.sentiment.datasets import (
    SentimentDataset,
    SentimentExample,
    SentimentFormat,
    load_sentiment,
    sentiment_split,
)
from intents.sentiment.evaluation import evaluate_sentiment_scorer
from intents.sentiment.scorers import EncoderSentimentScorer, LexiconSentimentScorer, SentimentScorer
from intents.sentiment.training import SentimentTrainingConfig, train_sentiment_classifier


class SentimentRetrainer:
    """The shared sentiment model: labelled data (CHATBOT_LEARNING_SENTIMENT_DATA) and the labels
    operators corrected in the console."""

    kind: str = ModelKind.SENTIMENT
    rule: PromotionRule = PromotionRule(metric="macro_f1")

    def targets(self, site: Site | None) -> list[Target]:
        return [Target(self.kind, site)]

    def _dataset(self) -> SentimentDataset:
        path = settings.CHATBOT_LEARNING_SENTIMENT_DATA
        if not path:
            raise SkipTarget("no labelled sentiment data: set CHATBOT_LEARNING_SENTIMENT_DATA")
        if not Path(path).is_file():
            raise SkipTarget(f"CHATBOT_LEARNING_SENTIMENT_DATA {path!r} is not a file")
        data_format: SentimentFormat = "csv" if settings.CHATBOT_LEARNING_SENTIMENT_FORMAT == "csv" else "airline"
        return load_sentiment(data_format, path, validation_fraction=0.1)

    def golden_build(self, target: Target) -> tuple[list[dict[str, Any]], str]:
        dataset = self._dataset()
        size = settings.CHATBOT_LEARNING_GOLDEN_SENTIMENT
        held = list(dataset.validation)
        fraction = min(1.0, size / max(1, len(held)))
        _, chosen = sentiment_split(held, fraction, seed=29) if fraction < 1 else ([], held)
        return [{"text": e.text, "label": e.label} for e in chosen], f"{settings.CHATBOT_LEARNING_SENTIMENT_DATA}"

    def train(self, target: Target, data: TrainingData, out: Path, progress: Progress) -> Candidate:
        dataset = self._dataset()
        held = data.golden_questions()
        train = [e for e in dataset.train if normalised(e.text) not in held]
        limit = settings.CHATBOT_LEARNING_SENTIMENT_MAX_EXAMPLES
        if limit and len(train) > limit:
            _, train = sentiment_split(train, limit / len(train), seed=31)
        corrected = [
            SentimentExample(redact(text), label) for text, label in data.corrections if normalised(text) not in held
        ]
        examples = [*train, *corrected]
        config = SentimentTrainingConfig(
            epochs=settings.CHATBOT_LEARNING_SENTIMENT_EPOCHS, device=settings.CHATBOT_LEARNING_DEVICE
        )
        train_sentiment_classifier(
            SentimentDataset(tuple(examples), (), source=dataset.source),
            out,
            config,
            lambda step, total, _: progress(step, total),
        )
        return Candidate(
            out,
            len(examples),
            BUNDLED_BASE,
            {"labelled_file": str(settings.CHATBOT_LEARNING_SENTIMENT_DATA), "corrections": len(corrected)},
        )

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        scorer: SentimentScorer = (
            LexiconSentimentScorer()
            if location is None
            else EncoderSentimentScorer.load(location, device=settings.CHATBOT_LEARNING_DEVICE)
        )
        examples = [SentimentExample(str(row["text"]), str(row["label"])) for row in golden]
        return evaluate_sentiment_scorer(scorer, examples, timed=False)

    def active_location(self, target: Target) -> tuple[str | None, str]:
        version = model_version_active(kind=self.kind)
        if version is not None:
            return version.path, version.name
        return None, "VADER lexicon"
