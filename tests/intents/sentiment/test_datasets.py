from __future__ import annotations

from pathlib import Path

import pytest

from intents.datasets import DatasetError
from intents.sentiment.datasets import load_sentiment
from intents.sentiment.scorers import LABELS, normalise_text


def test_the_airline_file_loads_with_a_stratified_tenth_held_out(airline_csv: Path) -> None:
    dataset = load_sentiment("airline", airline_csv)
    counts = dataset.counts()
    assert set(counts["train"]) == set(LABELS)
    for label in LABELS:
        share = counts["validation"][label] / (counts["train"][label] + counts["validation"][label])
        assert share == pytest.approx(0.1, abs=0.01)
    assert not {e.text for e in dataset.train} & {e.text for e in dataset.validation}


def test_the_split_is_the_same_every_time(airline_csv: Path) -> None:
    first = load_sentiment("airline", airline_csv, max_examples=300)
    second = load_sentiment("airline", airline_csv, max_examples=300)
    assert first.validation == second.validation
    assert len(first.train) + len(first.validation) == pytest.approx(300, abs=2)  # rounded per label


def test_a_generic_csv_needs_text_and_label_columns(tmp_path: Path) -> None:
    path = tmp_path / "mood.csv"
    path.write_text("text,sentiment\nlovely,positive\n")
    with pytest.raises(DatasetError, match=r"missing column.*label"):
        load_sentiment("csv", path)


def test_an_unknown_label_is_refused_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "mood.csv"
    path.write_text("text,label\nlovely,positive\nmeh,so-so\n")
    with pytest.raises(DatasetError, match=r"row 3.*'so-so'"):
        load_sentiment("csv", path)


def test_a_generic_csv_loads_with_its_labels(tmp_path: Path) -> None:
    path = tmp_path / "mood.csv"
    rows = [f"text {i},{LABELS[i % 3]}" for i in range(30)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    dataset = load_sentiment("csv", path)
    assert dataset.counts()["validation"] == {"negative": 1, "neutral": 1, "positive": 1}


def test_handles_and_links_become_placeholders() -> None:
    assert normalise_text("@united  my bag is lost http://t.co/x1") == "@user my bag is lost http"
