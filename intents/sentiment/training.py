"""Fine-tuning the sentiment classifier and calibrating it.

The training itself is the one the intent classifier uses (`intents.encoder_training`): the
bundled MiniLM with a linear head over its mean-pooled output, fine-tuned end to end; a
stratified slice of the training part (`calibration_fraction`) is held back to fit the
temperature, so the validation split stays untouched for the figures `evaluate` reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from intents.classifier import fit_temperature
from intents.encoder_training import (
    EncoderTrainingConfig,
    EncoderTrainingReport,
    Progress,
    encoder_classifier_train,
    model_config_write,
)
from intents.sentiment.datasets import SentimentDataset, sentiment_split
from intents.sentiment.scorers import CONFIG_FILE, LABELS, EncoderSentimentScorer, normalise_text

ClassWeighting = Literal["none", "sqrt", "balanced"]
CLASS_WEIGHTINGS: tuple[ClassWeighting, ...] = ("none", "sqrt", "balanced")


@dataclass
class SentimentTrainingConfig(EncoderTrainingConfig):
    label_smoothing: float = 0.05
    # The airline tweets are 63 % negative, 21 % neutral, 16 % positive: weighting the loss by
    # inverse class frequency ("balanced") or its square root ("sqrt") trades some accuracy on
    # the big class for recall on the small ones, which is what macro-F1 rewards.
    class_weighting: ClassWeighting = "sqrt"
    normalise: bool = True  # @handles and links to placeholders, in training and in scoring


@dataclass(kw_only=True)
class SentimentTrainingReport(EncoderTrainingReport):
    class_weights: dict[str, float]


def class_weights(labels: Sequence[str], weighting: ClassWeighting) -> dict[str, float]:
    """Loss weights per label, averaging 1 over the examples (so the learning rate keeps its meaning)."""
    counts = Counter(labels)
    if weighting == "none" or not counts:
        return dict.fromkeys(LABELS, 1.0)
    power = 1.0 if weighting == "balanced" else 0.5
    raw = {label: (len(labels) / (len(LABELS) * max(counts[label], 1))) ** power for label in LABELS}
    mean = sum(raw[label] * counts[label] for label in LABELS) / len(labels)
    return {label: round(raw[label] / mean, 4) for label in LABELS}


def train_sentiment_classifier(
    dataset: SentimentDataset, out_dir: Path | str, config: SentimentTrainingConfig, progress: Progress | None = None
) -> SentimentTrainingReport:
    fit, calibration = sentiment_split(dataset.train, config.calibration_fraction, config.seed)
    if len({e.label for e in fit}) < 2:
        raise ValueError("training needs examples of at least two sentiment labels")
    index = {label: i for i, label in enumerate(LABELS)}
    weights = class_weights([e.label for e in fit], config.class_weighting)

    out_dir = Path(out_dir)
    trained = encoder_classifier_train(
        [normalise_text(e.text) if config.normalise else e.text for e in fit],
        [index[e.label] for e in fit],
        num_labels=len(LABELS),
        config=config,
        out_dir=out_dir,
        class_weights=[weights[label] for label in LABELS],
        progress=progress,
    )
    scorer = EncoderSentimentScorer(
        trained.model,
        trained.tokenizer,
        LABELS,
        temperature=1.0,
        max_length=config.max_length,
        normalise=config.normalise,
        device=config.device,
    )
    temperature = 1.0
    if calibration:
        logits = scorer.logits([e.text for e in calibration])
        temperature = fit_temperature(logits, np.array([index[e.label] for e in calibration], dtype=np.int64))
    report = SentimentTrainingReport(
        examples_trained=len(fit),
        examples_calibration=len(calibration),
        epochs=config.epochs,
        seconds=trained.seconds(),
        temperature=round(temperature, 4),
        class_weights=weights,
        losses=trained.loss_curve(),
    )
    model_config_write(
        out_dir / CONFIG_FILE,
        {
            "kind": "sentiment-classifier",
            "labels": list(LABELS),
            "temperature": temperature,
            "max_length": config.max_length,
            "normalise": config.normalise,
        },
        config=config,
        report=report,
        data={
            "source": dataset.source,
            "notes": list(dataset.notes),
            "train": len(fit),
            "calibration": len(calibration),
            "validation": len(dataset.validation),
        },
    )
    return report
