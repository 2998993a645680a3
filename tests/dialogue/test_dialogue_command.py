"""`manage.py dialogue` on a slice of the shared Bitext data."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ROOT

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

BITEXT = ROOT.parent / "shared" / "datasets" / "bitext_customer_support" / "train.csv"


@pytest.fixture
def bitext_slice(tmp_path: Path) -> Path:
    if not BITEXT.exists():
        pytest.skip(f"the shared Bitext data is not at {BITEXT}")
    with BITEXT.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(400), reader, strict=False)]
        fields = reader.fieldnames or []
    path = tmp_path / "bitext.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_evaluate_prints_the_quality_and_speed_figures_as_one_json_object(bitext_slice: Path) -> None:
    out = StringIO()
    call_command(
        "dialogue", "evaluate", "--data", str(bitext_slice), "--format", "bitext", "--model", "retrieval",
        "--limit", "12", "--json", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    scores = json.loads(out.getvalue())
    assert scores["model"] == "retrieval" and scores["questions"] == 12
    for key in ("rougeL", "embedding_similarity", "grounded_fraction", "invented_entity_rate", "ttft_ms_p50"):
        assert key in scores
    # Retrieval answers with another customer's answer of the same intent: related, not identical.
    assert 0.15 < scores["rougeL"] < 0.95
    assert 0.4 < scores["embedding_similarity"] < 0.99
    assert scores["grounded_fraction"] == 1.0 and scores["invented_entity_rate"] == 0.0


def test_evaluate_refuses_an_unknown_model_and_a_file_of_another_format(bitext_slice: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No dialogue model version 'nope'"):
        call_command("dialogue", "evaluate", "--data", str(bitext_slice), "--format", "bitext", "--model", "nope")
    other = tmp_path / "other.csv"
    other.write_text("text,label\nhello,greeting\n")
    with pytest.raises(CommandError, match="not a Bitext CSV"):
        call_command("dialogue", "evaluate", "--data", str(other), "--format", "bitext", "--model", "retrieval")
    with pytest.raises(CommandError, match="No dialogue model is active"):
        call_command("dialogue", "evaluate", "--data", str(bitext_slice), "--format", "bitext", "--model", "active")


def test_finetune_registers_an_active_version_that_evaluate_can_score(
    bitext_slice: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from chatbot.registry.models import ModelVersion

    out = tmp_path / "tuned"
    call_command(
        "dialogue", "finetune", "--data", str(bitext_slice), "--format", "bitext", "--base", str(tiny_model_dir),
        "--max-examples", "8", "--epochs", "1", "--out", str(out), "--activate", "--device", "cpu",
        stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    version = ModelVersion.objects.get(kind="dialogue", is_active=True)
    assert Path(version.path) == out.resolve() and (out / "model.safetensors").exists()
    assert version.manifest["rows_used"] == 8 and len(version.manifest["sha256"]) == 64
    assert version.base_model == str(tiny_model_dir) and version.metrics["steps"] == 2
    assert not (out / "checkpoint").exists()

    printed = StringIO()
    call_command(
        "dialogue", "evaluate", "--data", str(bitext_slice), "--format", "bitext", "--model", "active",
        "--limit", "2", "--json", stdout=printed, stderr=StringIO(),
    )  # fmt: skip
    scores = json.loads(printed.getvalue())
    assert scores["model"] == version.name and scores["questions"] == 2
    assert scores["ttft_ms_p50"] is not None
