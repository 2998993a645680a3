"""Labelled sentiment data: the airline tweets or a generic CSV, split for training and validation."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from intents.datasets import DatasetError, stratified_split
from intents.sentiment.scorers import LABELS

SentimentFormat = Literal["airline", "csv"]
SENTIMENT_FORMATS: tuple[SentimentFormat, ...] = ("airline", "csv")


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
