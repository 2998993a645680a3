"""`python manage.py intents train|evaluate` end to end on a small CSV."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

INTENTS = {
    "refund": ["I want my money back", "refund please", "can I get a refund", "return my payment", "reimburse me"],
    "track": ["where is my parcel", "track my order", "when will it arrive", "delivery status", "where's my package"],
    "password": ["reset my password", "forgot my password", "can't log in", "change password", "locked out"],
}


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    rows = ["text,intent"] + [
        f"{text}{end},{intent}"
        for intent, texts in INTENTS.items()
        for text in texts
        for end in ("", "!", " now", "?", " thanks")
    ]
    path = tmp_path / "intents.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_training_then_evaluating_prints_the_scores_as_json(data_file: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    call_command(
        "intents",
        "train",
        "--format",
        "csv",
        "--data",
        str(data_file),
        "--out",
        str(model),
        "--epochs",
        "4",
        "--device",
        "cpu",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    out = StringIO()
    call_command(
        "intents",
        "evaluate",
        "--format",
        "csv",
        "--data",
        str(data_file),
        "--model",
        str(model),
        "--json",
        "--device",
        "cpu",
        stdout=out,
    )
    scores = json.loads(out.getvalue())
    assert set(scores) >= {"accuracy", "macro_f1", "ece", "ms_per_query_p50", "ms_per_query_p99"}
    assert "oos_recall" not in scores  # this data has no out-of-scope examples
    assert scores["accuracy"] > 1 / 3


def test_a_bad_data_file_or_model_directory_is_a_clear_command_error(data_file: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("intents", "train", "--format", "csv", "--data", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="missing column"):
        call_command("intents", "train", "--format", "banking77", "--data", str(data_file))
    with pytest.raises(CommandError, match="not a model directory"):
        call_command("intents", "evaluate", "--format", "csv", "--data", str(data_file), "--model", str(tmp_path))
