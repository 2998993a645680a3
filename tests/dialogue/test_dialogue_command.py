"""`manage.py dialogue` on a slice of the shared Bitext data."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

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


def _tiny_faq(site: Any) -> list[str]:
    """Three active entries and an inactive one; returns the active entries' alternatives."""
    from chatbot.knowledge.models import FaqEntry

    FaqEntry.objects.create(
        site=site,
        question="Can I add items to my order?",
        alternatives=[
            "Can you add items to an order I placed?",
            "add a throw to my order",
            "Can I add items to my order?",
        ],
        answer="We can't add items to an order once it has been placed, but you can place a second order.",
    )
    FaqEntry.objects.create(
        site=site,
        question="Do you offer express delivery?",
        alternatives=["express delivery price", "next day delivery cost"],
        answer="Yes, express delivery costs €12.95 and arrives the next business day. Express is not available "
        "for furniture.",
    )
    FaqEntry.objects.create(
        site=site,
        question="Do you ship outside the EU?",
        alternatives=["shipping to Norway"],
        answer="Unfortunately we only ship within the EU.",
    )
    FaqEntry.objects.create(
        site=site, question="Old entry?", alternatives=["old phrasing"], answer="Gone.", is_active=False
    )
    return ["Can you add items to an order I placed?", "add a throw to my order", "express delivery price",
            "next day delivery cost", "shipping to Norway"]  # fmt: skip


def test_finetune_on_a_sites_own_faq_trains_on_its_verified_alternatives(
    shop_site: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from chatbot.dialogue.services import HELD_OUT_FRACTION
    from chatbot.registry.models import ModelVersion
    from intents.generation.data import is_held_out

    phrasings = _tiny_faq(shop_site)
    held = [p for p in phrasings if is_held_out(p, HELD_OUT_FRACTION)]
    assert held, "the fixture should hold one phrasing out"
    out = tmp_path / "tuned"
    printed = StringIO()
    call_command(
        "dialogue", "finetune", "--faq", "shop", "--base", str(tiny_model_dir), "--epochs", "1", "--out", str(out),
        "--device", "cpu", stdout=printed, stderr=StringIO(),
    )  # fmt: skip

    version = ModelVersion.objects.get(kind="dialogue")
    manifest = version.manifest
    assert version.name.startswith("dialogue-faq-shop-lora-") and not version.is_active
    assert (out / "model.safetensors").exists() and version.base_model == str(tiny_model_dir)
    assert manifest["faq_site"] == "shop" and manifest["faq_entries"] == 3 and manifest["held_out"] == len(held)
    # The FAQ question itself and the inactive entry are never training questions; every other
    # phrasing is held out, trained on, or refused by the verifier.
    assert manifest["verifier_kept"] + manifest["verifier_dropped"] + len(held) == len(phrasings)
    # "Unfortunately we only ship within the EU." opens with a "no" that "shipping to Norway" did not ask for.
    assert manifest["verifier_dropped"] == 1
    assert manifest["examples"] == manifest["verifier_kept"] >= 2
    assert version.metrics["steps"] == -(-manifest["examples"] // 4)  # batches of four
    assert "verifier kept" in printed.getvalue()


def test_finetune_needs_a_data_file_or_a_site(shop_site: Any) -> None:
    with pytest.raises(CommandError, match="Give --data FILE --format FORMAT, or --faq SITE"):
        call_command("dialogue", "finetune", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="--data needs --format"):
        call_command("dialogue", "finetune", "--data", "x.csv", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No site with key 'nope'"):
        call_command("dialogue", "finetune", "--faq", "nope", stdout=StringIO(), stderr=StringIO())
