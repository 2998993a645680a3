"""Sentiment of customer messages: negative, neutral or positive, with a score from -1 to 1.

Two scorers behind one interface:
- `LexiconSentimentScorer`: VADER's rule-based lexicon. Needs no training, so it is the fallback
  before any model is trained, and the baseline a trained model must beat.
- `EncoderSentimentScorer`: a fine-tuned sentence encoder (by default the bundled MiniLM) with a
  three-way linear head and a temperature fitted on held-out data; written by
  `intents.sentiment_training.train_sentiment_classifier`.

Plus the data sets they are trained and measured on, and how a conversation's sentiment follows
from its messages'.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from intents.classifier import FloatArray, softmax
from intents.datasets import DatasetError, stratified_split

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SentimentFormat = Literal["airline", "csv"]
SENTIMENT_FORMATS: tuple[SentimentFormat, ...] = ("airline", "csv")
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
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

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
        from intents.encoder import batched_logits

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


# --- Conversations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationSentiment:
    score: float  # -1..1
    label: str


def conversation_sentiment(messages: Sequence[tuple[float, str]], decay: float) -> ConversationSentiment | None:
    """A conversation's current sentiment from its customer messages' (score, label), oldest first.

    Both are exponentially weighted towards the latest message: it weighs 1, the one before
    `decay`, then `decay`**2 and so on. The score is the weighted mean of the scores; the label
    the one with the most weight (ties go to the latest message's). With decay 0.6 the latest
    message outweighs the one or two before it, and a longer run of earlier ones outweighs it: a
    conversation that turns sour ends negative, one negative remark after a long friendly chat
    does not sink it. The label is voted rather than read off the mean score because the scorers'
    scores differ in scale (VADER's compound, a model's P(pos) - P(neg)) while their labels agree
    in meaning. None without messages."""
    if not messages:
        return None
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"decay must be within (0, 1], not {decay}")
    weights = [decay ** (len(messages) - 1 - i) for i in range(len(messages))]
    score = sum(w * s for w, (s, _) in zip(weights, messages, strict=True)) / sum(weights)
    votes: dict[str, float] = defaultdict(float)
    for weight, (_, label) in zip(weights, messages, strict=True):
        votes[label] += weight
    latest = messages[-1][1]
    label = max(votes, key=lambda candidate: (round(votes[candidate], 9), candidate == latest))
    return ConversationSentiment(score=round(score, 4), label=label)


def escalation_reason(
    messages: Sequence[tuple[float, str]], *, strongly_negative: float = -0.6, negative_run: int = 2
) -> str | None:
    """Why a conversation should be flagged to the team from its customer messages' (score, label),
    oldest first, or None: its latest message is strongly negative (score at most
    `strongly_negative`), or its last `negative_run` messages are all negative (said to be getting
    worse when an earlier message was not)."""
    if not messages:
        return None
    score, label = messages[-1]
    if label == "negative" and score <= strongly_negative:
        return f"strongly negative message ({score:.2f})"
    if (
        negative_run >= 1
        and len(messages) >= negative_run
        and all(tag == "negative" for _, tag in messages[-negative_run:])
    ):
        worse = any(tag != "negative" for _, tag in messages[:-negative_run])
        return f"{negative_run} negative messages in a row" + (", getting worse" if worse else "")
    return None


# --- Data sets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentimentExample:
    text: str
    label: str


@dataclass(frozen=True)
class SentimentDataset:
    train: tuple[SentimentExample, ...]
    validation: tuple[SentimentExample, ...]
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "train": _label_counts(self.train),
            "validation": _label_counts(self.validation),
        }


# The label column of the airline file: `airline_sentiment` in the original Crowdflower/Kaggle
# release, `sentiment` in the copy under ../shared/datasets.
_AIRLINE_LABEL_COLUMNS = ("airline_sentiment", "sentiment")


def load_sentiment(
    fmt: SentimentFormat,
    path: Path | str,
    *,
    validation_fraction: float = 0.1,
    seed: int = 13,
    max_examples: int | None = None,
) -> SentimentDataset:
    """`airline`: the Twitter US Airline Sentiment CSV (`text`, `airline_sentiment`); `csv`: a CSV
    with `text,label`. Labels must be negative, neutral or positive. Validation is a stratified
    `validation_fraction` of the file (fixed `seed`); `max_examples` takes a stratified sample
    of about that many examples first (rounded per label; for tests and quick trials)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if fmt == "airline":
        examples = _read_csv(path, label_columns=_AIRLINE_LABEL_COLUMNS)
    elif fmt == "csv":
        examples = _read_csv(path, label_columns=("label",))
    else:
        raise DatasetError(f"unknown format {fmt!r}; use one of {', '.join(SENTIMENT_FORMATS)}")
    notes = []
    if max_examples is not None and max_examples < len(examples):
        _, examples = sentiment_split(examples, max_examples / len(examples), seed + 1)
        notes.append(f"a stratified sample of {len(examples)} examples")
    train, validation = sentiment_split(examples, validation_fraction, seed)
    notes.append(f"validation: a stratified {validation_fraction:.0%} of {path.name} (seed {seed})")
    return SentimentDataset(tuple(train), tuple(validation), source=str(path), notes=tuple(notes))


def sentiment_split(
    examples: Sequence[SentimentExample], fraction: float, seed: int
) -> tuple[list[SentimentExample], list[SentimentExample]]:
    """Hold out `fraction` of every label (at least one example of labels that have two)."""
    return stratified_split(examples, fraction, seed, key=lambda example: example.label)


def _read_csv(path: Path, *, label_columns: Sequence[str]) -> list[SentimentExample]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            label_column = next((c for c in label_columns if c in columns), None)
            missing = [c for c in ("text",) if c not in columns]
            if label_column is None:
                missing.append(" or ".join(label_columns))
            if missing:
                raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns)}")
            assert label_column is not None
            labelled = list(_examples(path, ((r["text"], r[label_column]) for r in reader)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    # A text listed twice would otherwise land in both splits and flatter validation; a text
    # its annotators labelled differently (10 tweets of the airline file) teaches nothing.
    labels_of: dict[str, set[str]] = defaultdict(set)
    for example in labelled:
        labels_of[example.text].add(example.label)
    examples = [e for e in dict.fromkeys(labelled) if len(labels_of[e.text]) == 1]
    if not examples:
        raise DatasetError(f"{path}: no examples")
    return examples


def _examples(path: Path, pairs: Iterable[tuple[str | None, str | None]]) -> Iterable[SentimentExample]:
    for line, (text, label) in enumerate(pairs, start=2):
        text, label = (text or "").strip(), (label or "").strip().lower()
        if not text:
            continue
        if label not in LABELS:
            raise DatasetError(f"{path}, row {line}: label {label!r} is not one of {', '.join(LABELS)}")
        yield SentimentExample(text, label)


def _label_counts(examples: Iterable[SentimentExample]) -> dict[str, int]:
    counts = dict.fromkeys(LABELS, 0)
    for example in examples:
        counts[example.label] += 1
    return counts


# --- Evaluation ------------------------------------------------------------------------------


def sentiment_scores(gold: Sequence[str], predicted: Sequence[str], latencies_ms: Sequence[float]) -> dict[str, float]:
    """accuracy, macro-F1 and F1 of each label over every example; latency percentiles."""
    from sklearn.metrics import f1_score

    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    per_label = f1_score(gold_a, pred_a, labels=list(LABELS), average=None, zero_division=0)
    scores: dict[str, float] = {
        "examples": float(len(gold_a)),
        "accuracy": float((gold_a == pred_a).mean()) if len(gold_a) else 0.0,
        "macro_f1": float(f1_score(gold_a, pred_a, labels=list(LABELS), average="macro", zero_division=0)),
    }
    for label, value in zip(LABELS, per_label, strict=True):
        scores[f"f1_{label}"] = float(value)
    if len(latencies_ms):
        scores["ms_per_query_p50"] = float(np.percentile(latencies_ms, 50))
        scores["ms_per_query_p99"] = float(np.percentile(latencies_ms, 99))
    return {k: round(v, 4) for k, v in scores.items()}


def evaluate_sentiment_scorer(
    scorer: SentimentScorer, examples: Sequence[SentimentExample], *, timed: bool = True
) -> dict[str, float]:
    """Quality on every example; with `timed`, one text at a time (as in serving) with latencies."""
    texts = [e.text for e in examples]
    latencies: list[float] = []
    if timed:
        predicted = []
        for text in texts:
            started = time.perf_counter()
            predicted.append(scorer.score([text])[0].label)
            latencies.append((time.perf_counter() - started) * 1000)
    else:
        predicted = [s.label for s in scorer.score(texts)]
    return sentiment_scores([e.label for e in examples], predicted, latencies)
