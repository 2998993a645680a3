"""Fine-tuning the sentiment classifier, calibrating it, and the baselines it is measured against.

Like the intent classifier (intents/training.py): the bundled MiniLM with a linear head over its
mean-pooled output, fine-tuned end to end; a stratified slice of the training part
(`calibration_fraction`) is held back to fit the temperature, so the validation split stays
untouched for the figures `evaluate` reports.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from intents.classifier import fit_temperature
from intents.sentiment import (
    CONFIG_FILE,
    LABELS,
    EncoderSentimentScorer,
    SentimentDataset,
    SentimentExample,
    normalise_text,
    sentiment_scores,
    sentiment_split,
)
from intents.training import FineTuning, fine_tune

Progress = Callable[[int, int, dict[str, float]], None]  # (step, total steps, figures)
ClassWeighting = Literal["none", "sqrt", "balanced"]
CLASS_WEIGHTINGS: tuple[ClassWeighting, ...] = ("none", "sqrt", "balanced")


@dataclass
class SentimentTrainingConfig:
    epochs: int = 3
    batch_size: int = 32
    encoder_learning_rate: float = 5e-5
    head_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    label_smoothing: float = 0.05
    max_length: int = 64
    calibration_fraction: float = 0.1
    # The airline tweets are 63 % negative, 21 % neutral, 16 % positive: weighting the loss by
    # inverse class frequency ("balanced") or its square root ("sqrt") trades some accuracy on
    # the big class for recall on the small ones, which is what macro-F1 rewards.
    class_weighting: ClassWeighting = "sqrt"
    normalise: bool = True  # @handles and links to placeholders, in training and in scoring
    seed: int = 13
    device: str = "cpu"
    base_model: str | None = None


@dataclass
class SentimentTrainingReport:
    examples_trained: int
    examples_calibration: int
    epochs: int
    seconds: float
    temperature: float
    class_weights: dict[str, float]
    losses: list[float] = field(default_factory=list)


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
    import torch

    from intents.encoder import EncoderWithHead, load_tokenizer

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    fit, calibration = sentiment_split(dataset.train, config.calibration_fraction, config.seed)
    if len({e.label for e in fit}) < 2:
        raise ValueError("training needs examples of at least two sentiment labels")
    index = {label: i for i, label in enumerate(LABELS)}
    weights = class_weights([e.label for e in fit], config.class_weighting)

    base = config.base_model
    model = EncoderWithHead.from_base(base, len(LABELS), config.device)
    tokenizer = load_tokenizer(base or _bundled())
    texts = [_prepared(e.text, config.normalise) for e in fit]
    encoded = tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    losses = fine_tune(
        model,
        encoded,
        [index[e.label] for e in fit],
        FineTuning.from_config(config),
        pad=tokenizer.pad_token_id or 0,
        class_weights=[weights[label] for label in LABELS],
        progress=progress,
    )

    model.eval()
    model.save(out_dir)
    tokenizer.save_pretrained(str(out_dir / "encoder"))
    scorer = EncoderSentimentScorer(
        model,
        tokenizer,
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
        seconds=round(time.perf_counter() - started, 1),
        temperature=round(temperature, 4),
        class_weights=weights,
        losses=[round(x, 4) for x in losses[:: max(1, len(losses) // 50)]],
    )
    (out_dir / CONFIG_FILE).write_text(
        json.dumps(
            {
                "kind": "sentiment-classifier",
                "labels": list(LABELS),
                "temperature": temperature,
                "max_length": config.max_length,
                "normalise": config.normalise,
                "base_model": base or "sentence-transformers/all-MiniLM-L6-v2 (bundled)",
                "trained_at": datetime.now(UTC).isoformat(),
                "data": {
                    "source": dataset.source,
                    "notes": list(dataset.notes),
                    "train": len(fit),
                    "calibration": len(calibration),
                    "validation": len(dataset.validation),
                },
                "config": asdict(config),
                "report": {k: v for k, v in asdict(report).items() if k != "losses"},
            },
            indent=2,
        )
    )
    return report


def embedding_logistic_baseline(
    train: Sequence[SentimentExample], validation: Sequence[SentimentExample], embedder: Any
) -> dict[str, float]:
    """The MiniLM-embeddings + logistic-regression baseline: frozen sentence embeddings of the
    raw texts, scikit-learn's default regularisation, trained on `train`, scored on `validation`."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=2000)
    classifier.fit(embedder.encode([e.text for e in train]), [e.label for e in train])
    predicted = classifier.predict(embedder.encode([e.text for e in validation]))
    return sentiment_scores([e.label for e in validation], [str(p) for p in predicted], [])


def _prepared(text: str, normalise: bool) -> str:
    return normalise_text(text) if normalise else text


def _bundled() -> str:
    from intents.embeddings import bundled_minilm_path

    return str(bundled_minilm_path())
