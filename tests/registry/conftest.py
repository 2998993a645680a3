from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.registry.models import ModelVersion
from chatbot.registry.services import model_version_register

MANIFEST = {
    "files": [{"path": "train.csv", "rows": 1200, "sha256": "ab" * 32}],
    "options": {"epochs": 3},
}


@pytest.fixture
def register(db: None, tmp_path: Path) -> Callable[..., ModelVersion]:
    """Register a version of a kind, with a real (empty) model directory of its own."""

    def register(name: str, kind: str = "intents", **fields: Any) -> ModelVersion:
        directory = tmp_path / kind / name
        directory.mkdir(parents=True)
        fields.setdefault("manifest", MANIFEST)
        fields.setdefault("metrics", {"accuracy": 0.9})
        return model_version_register(kind=kind, name=name, path=directory, **fields)

    return register
