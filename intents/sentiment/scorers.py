"""Scoring customer messages: the interface, VADER's lexicon, and a fine-tuned encoder."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from intents.classifier import FloatArray, softmax

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
CONFIG_FILE = "sentiment_model.json"
# VADER's own recommendation for its compound score.
VADER_THRESHOLD = 0.05


@dataclass(frozen=True)
class SentimentScore:
    label: str  # one of LABELS
    score: float  # -1 (negative) .. 1 (positive)
    probabilities: Mapping[str, float]  # one per label, summing to 1


class SentimentScorer(Protocol):
    """Scores texts one per result, in order. `name` says which scorer (for reports and logs)."""

    name: str

    def score(self, texts: Sequence[str]) -> list[SentimentScore]: ...


def label_for_score(score: float, band: float) -> str:
    """Negative at or below -band, positive at or above band, neutral between."""
    if score <= -band:
        return "negative"
    if score >= band:
        return "positive"
    return "neutral"


# --- Text normalisation ----------------------------------------------------------------------

_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Tweets open with the airline's @handle: replacing handles and links with placeholders keeps
    the model from learning which airline is unpopular, which would not carry over to a chat."""
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


# --- Scorers ---------------------------------------------------------------------------------


class LexiconSentimentScorer:
    """VADER: the score is its compound polarity, the label that score against +-0.05. The
    probabilities are VADER's shares of negative, neutral and positive words, normalised: not
    a calibrated distribution (mostly "neutral" words), so their argmax need not be the label."""

    name = "lexicon:vader"

    def __init__(self, threshold: float = VADER_THRESHOLD) -> None:
        self.threshold = threshold
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: Sequence[str]) -> list[SentimentScore]:
        results = []
        for text in texts:
            polarity = self._analyzer.polarity_scores(text)
            shares = {"negative": polarity["neg"], "neutral": polarity["neu"], "positive": polarity["pos"]}
            if not any(shares.values()):  # a text without words
                shares["neutral"] = 1.0
            total = sum(shares.values())
            compound = float(polarity["compound"])
            results.append(
                SentimentScore(
                    label=label_for_score(compound, self.threshold),
                    score=round(compound, 4),
                    probabilities={k: round(v / total, 4) for k, v in shares.items()},
                )
            )
        return results


class EncoderSentimentScorer:
    """A fine-tuned encoder with a three-way head, loaded from a directory written by training.
    The label is the most probable class; the score is P(positive) - P(negative)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labels: tuple[str, ...],
        *,
        temperature: float,
        max_length: int,
        normalise: bool,
        device: str,
        name: str = "encoder",
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.temperature = temperature
        self.max_length = max_length
        self.normalise = normalise
        self.device = device
        self.name = name

    @classmethod
    def load(cls, directory: Path | str, *, device: str = "cpu") -> EncoderSentimentScorer:
        # intents.encoder imports torch, seconds of start-up that the lexicon scorer never needs.
        from intents.encoder import EncoderWithHead, load_tokenizer

        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        if not config_path.is_file():
            raise FileNotFoundError(f"{directory} is not a sentiment model directory (no {CONFIG_FILE})")
        config = json.loads(config_path.read_text())
        labels = tuple(config["labels"])
        if set(labels) != set(LABELS):
            raise ValueError(f"{directory}: labels {labels} are not {LABELS}")
        model = EncoderWithHead.load(directory, num_labels=len(labels), device=device)
        return cls(
            model,
            load_tokenizer(directory / "encoder"),
            labels,
            temperature=float(config["temperature"]),
            max_length=int(config["max_length"]),
            normalise=bool(config.get("normalise", False)),
            device=device,
            name=f"encoder:{directory.name}",
        )

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> FloatArray:
        from intents.encoder import batched_logits  # see load

        prepared = [normalise_text(t) for t in texts] if self.normalise else list(texts)
        return batched_logits(
            self.model,
            self.tokenizer,
            prepared,
            num_labels=len(self.labels),
            max_length=self.max_length,
            device=self.device,
            batch_size=batch_size,
        )

    def score(self, texts: Sequence[str]) -> list[SentimentScore]:
        return scores_from_probabilities(softmax(self.logits(texts), self.temperature), self.labels)


def scores_from_probabilities(probabilities: FloatArray, labels: Sequence[str]) -> list[SentimentScore]:
    """Rows of class probabilities (columns in `labels` order) as SentimentScores."""
    negative, positive = labels.index("negative"), labels.index("positive")
    results = []
    for row in probabilities:
        results.append(
            SentimentScore(
                label=labels[int(np.argmax(row))],
                score=round(float(row[positive] - row[negative]), 4),
                probabilities={label: round(float(row[i]), 4) for i, label in enumerate(labels)},
            )
        )
    return results


def scores_by_language(
    texts: Sequence[str],
    languages: Sequence[str],
    scorers: Mapping[str, Callable[[], SentimentScorer]],
    default: Callable[[], SentimentScorer],
) -> list[SentimentScore]:
    """Score each text with the scorer of its language (`scorers`, loaded only when a text needs
    it), else with `default`; one result per text, in order."""
    groups: dict[str, list[int]] = {}
    for i, language in enumerate(languages):
        groups.setdefault(language if language in scorers else "", []).append(i)
    results: list[SentimentScore | None] = [None] * len(texts)
    for language, positions in groups.items():
        scorer = scorers[language]() if language else default()
        for position, result in zip(positions, scorer.score([texts[i] for i in positions]), strict=True):
            results[position] = result
    return [r for r in results if r is not None]
