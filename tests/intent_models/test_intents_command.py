"""`python manage.py intents train|evaluate` end to end on a small CSV."""

from __future__ import annotations

import json
import logging
import re
import sys
from io import StringIO
from pathlib import Path
from typing import Any

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


@pytest.mark.slow
def test_training_off_a_terminal_logs_progress_and_evaluate_scores_a_whole_test_file(
    data_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", StringIO())  # as under nohup or in CI: no terminal
    model = tmp_path / "model"
    with caplog.at_level(logging.INFO, logger="intents.training"):
        call_command(
            "intents", "train", "--format", "csv", "--data", str(data_file), "--out", str(model),
            "--epochs", "2", "--device", "cpu", stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    lines = [record.getMessage() for record in caplog.records if record.name == "intents.training"]
    first = r"training: step 1/\d+ \(\d+%\), epoch 1/2, loss \d+\.\d{4}, 0m\d\ds elapsed, ETA \d+m\d\ds"
    last = r"training: step (\d+)/\1 \(100%\), epoch 2/2, loss \d+\.\d{4}, \d+m\d\ds elapsed, done"
    assert re.fullmatch(first, lines[0]) and re.fullmatch(last, lines[-1]), lines

    test_file = tmp_path / "test.csv"
    test_file.write_text(
        "text,intent\ngive me my money back,refund\nI'd like a refund,refund\nwhere's my order,track\n"
        "has my parcel shipped,track\nI forgot my password,password\nreset my login please,password\n"
    )

    def evaluate(path: Path, *args: str) -> dict[str, Any]:
        out = StringIO()
        call_command(
            "intents", "evaluate", "--format", "csv", "--data", str(path), "--model", str(model), "--json",
            "--device", "cpu", *args, stdout=out,
        )  # fmt: skip
        return json.loads(out.getvalue())  # type: ignore[no-any-return]

    assert evaluate(test_file)["scored"] == {"split": "all", "examples": 6, "source": str(test_file)}
    held_out = evaluate(data_file, "--validation-split")["scored"]
    assert held_out["split"] == "validation" and 0 < held_out["examples"] < 75
    out = StringIO()
    call_command(
        "intents", "evaluate", "--format", "csv", "--data", str(test_file), "--model", str(model), "--device", "cpu",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().startswith(f"Scored every example of {test_file} (6 examples).")
