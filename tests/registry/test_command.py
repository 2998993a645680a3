from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatbot.registry.models import ModelVersion
from chatbot.registry.selectors import model_version_active

pytestmark = pytest.mark.django_db

Register = Callable[..., ModelVersion]


def models(*args: str) -> str:
    out = StringIO()
    call_command("models", *args, stdout=out)
    return out.getvalue()


def test_list_json_prints_every_version_with_its_state_and_metrics(register: Register) -> None:
    register("v1", metrics={"accuracy": 0.91, "macro_f1": 0.88}, activate=True)
    register("s1", kind="sentiment")

    listed: list[dict[str, Any]] = json.loads(models("list", "--json"))

    assert [(v["kind"], v["name"], v["is_active"]) for v in listed] == [
        ("intents", "v1", True),
        ("sentiment", "s1", False),
    ]
    first = listed[0]
    assert first["metrics"] == {"accuracy": 0.91, "macro_f1": 0.88}
    assert first["manifest"]["files"][0]["rows"] == 1200
    assert first["activated_at"] is not None and first["created_at"]
    assert Path(first["path"]).is_dir()


def test_list_can_be_narrowed_to_one_kind(register: Register) -> None:
    register("v1")
    register("s1", kind="sentiment")
    assert [v["name"] for v in json.loads(models("list", "--kind", "sentiment", "--json"))] == ["s1"]
    assert "s1" in models("list", "--kind", "sentiment")


def test_register_reads_metrics_from_a_file_and_can_activate(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.93}))

    out = models(
        "register", "--kind", "intents", "--name", "b77", "--path", str(tmp_path / "model"),
        "--metrics", str(tmp_path / "metrics.json"), "--activate",
    )  # fmt: skip

    assert "Registered intents version b77" in out
    version = model_version_active(kind="intents")
    assert version is not None
    assert (version.name, version.metrics) == ("b77", {"accuracy": 0.93})


def test_register_with_a_missing_path_fails_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        models("register", "--kind", "intents", "--name", "b77", "--path", str(tmp_path / "missing"))


def test_promote_by_name_or_by_id_then_rollback(register: Register) -> None:
    first, second = register("v1", activate=True), register("v2")

    assert "v2 is now the active intents model" in models("promote", "v2")
    assert "Rolled back: v1" in models("rollback", "intents")
    models("promote", str(second.pk))
    assert model_version_active(kind="intents") == second
    assert first.activations.count() == 2


def test_promote_of_a_name_several_kinds_share_asks_for_the_kind(register: Register) -> None:
    register("v1")
    register("v1", kind="sentiment")
    with pytest.raises(CommandError, match="give --kind"):
        models("promote", "v1")
    models("promote", "v1", "--kind", "sentiment")
    assert model_version_active(kind="sentiment") is not None
    assert model_version_active(kind="intents") is None


def test_promote_of_an_unknown_version_and_rollback_without_history_fail_clearly(register: Register) -> None:
    with pytest.raises(CommandError, match="No model version named"):
        models("promote", "nope")
    with pytest.raises(CommandError, match="nothing to roll back to"):
        models("rollback", "dialogue")
