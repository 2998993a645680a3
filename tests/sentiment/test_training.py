"""Training and evaluating for real, on a slice of the shared airline tweets (slow: ~1 min on 2 cores)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatbot.registry.services import model_version_register
from chatbot.replies.loading import sentiment_scorer_get
from chatbot.sentiment.services import message_sentiment_score
from tests.support.datasets import AIRLINE

SLICE = ["--format", "airline", "--max-examples", "800"]


def evaluate(airline_csv: Path, *args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("sentiment", "evaluate", *SLICE, "--data", str(airline_csv), "--json", *args, stdout=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not AIRLINE.is_file():
        pytest.skip(f"{AIRLINE} is not here")
    model = tmp_path_factory.mktemp("sentiment") / "model"
    call_command(
        "sentiment", "train", *SLICE, "--data", str(AIRLINE), "--epochs", "2", "--out", str(model), stdout=io.StringIO()
    )
    return model


@pytest.mark.slow
@pytest.mark.django_db
def test_a_model_trained_on_a_slice_beats_the_lexicon_on_the_same_held_out_tweets(
    trained: Path, airline_csv: Path
) -> None:
    # The file trained on: its validation split only (the default scores the whole file).
    model = evaluate(airline_csv, "--model", str(trained), "--validation-split")
    lexicon = evaluate(airline_csv, "--validation-split")  # no active version: the lexicon
    assert lexicon["scorer"] == "lexicon:vader"
    assert model["examples"] == lexicon["examples"] == 80
    assert model["scored"]["split"] == "validation" and model["scored"]["examples"] == 80
    for figures in (model, lexicon):
        assert {"accuracy", "macro_f1", "f1_negative", "ms_per_query_p50", "ms_per_query_p99"} <= set(figures)
    assert model["macro_f1"] > lexicon["macro_f1"]
    assert model["accuracy"] > lexicon["accuracy"]


@pytest.mark.slow
@pytest.mark.django_db
def test_the_active_registered_model_scores_live_messages(trained: Path, say: Callable[..., Any]) -> None:
    model_version_register(kind="sentiment", name="slice", path=trained, manifest={}, metrics={}, activate=True)
    (message,) = say("@united worst airline ever, lost my bag and nobody cares")
    message_sentiment_score(message.pk)
    message.refresh_from_db()
    assert sentiment_scorer_get().name == "sentiment/slice"
    assert message.sentiment_label == "negative"
    assert message.sentiment is not None and message.sentiment < 0


@pytest.mark.django_db
def test_evaluate_scores_every_example_of_a_test_file_unless_asked_for_the_validation_split(tmp_path: Path) -> None:
    """A separate test file is scored whole (it used to be cut to a 10% validation split)."""
    texts = {
        "negative": ["worst flight ever", "lost my bag again", "rude staff and never again", "delayed for hours"],
        "neutral": ["what time is boarding", "is there wifi on board", "which gate for BA12", "flight AB1 tomorrow"],
        "positive": ["great crew and thanks", "lovely flight", "best service ever", "thank you so much"],
    }
    path = tmp_path / "test.csv"
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for label, ts in texts.items() for t in ts))
    out = io.StringIO()
    call_command("sentiment", "evaluate", "--format", "csv", "--data", str(path), "--json", stdout=out)
    whole = json.loads(out.getvalue())
    assert whole["scored"] == {"split": "all", "examples": 12, "source": str(path)}
    assert whole["examples"] == 12
    out = io.StringIO()
    call_command("sentiment", "evaluate", "--format", "csv", "--data", str(path), "--validation-split", stdout=out)
    assert f"Scored the validation split of {path} (3 examples)." in out.getvalue()


def test_evaluate_refuses_a_csv_without_the_label_column(tmp_path: Path) -> None:
    path = tmp_path / "mood.csv"
    path.write_text("text,mood\nlovely,positive\n")
    with pytest.raises(CommandError, match="missing column"):
        call_command("sentiment", "evaluate", "--format", "csv", "--data", str(path), "--json")


def test_evaluate_refuses_a_directory_that_is_no_model(tmp_path: Path, airline_csv: Path) -> None:
    with pytest.raises(CommandError, match="not a sentiment model directory"):
        evaluate(airline_csv, "--model", str(tmp_path))
