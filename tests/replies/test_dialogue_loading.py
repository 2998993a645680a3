"""Workers serve the registry's active dialogue version and follow promotes and rollbacks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from chatbot.registry.services import model_version_promote, model_version_register, model_version_rollback
from chatbot.replies import loading

pytestmark = pytest.mark.django_db


@dataclass
class LoadedModel:
    location: str
    name: str


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[LoadedModel]]:
    """Every model load, without loading weights."""
    calls: list[LoadedModel] = []

    def fake_load(location: str, *, name: str, **_: Any) -> LoadedModel:
        calls.append(LoadedModel(str(location), name))
        return calls[-1]

    monkeypatch.setattr(loading.LocalGenerator, "load", fake_load)
    loading.generator_cache.forget()
    yield calls
    loading.generator_cache.forget()


def version(tmp_path: Path, name: str) -> Any:
    folder = tmp_path / name
    folder.mkdir()
    return model_version_register(kind="dialogue", name=name, path=folder, manifest={}, metrics={})


def test_generation_off_means_no_generator(loads: list[LoadedModel]) -> None:
    with override_settings(CHATBOT_GENERATOR="off"):
        assert loading.generator_get() is None
    assert loads == []


def test_without_an_active_version_the_configured_model_is_served(loads: list[LoadedModel], tmp_path: Path) -> None:
    with override_settings(CHATBOT_GENERATOR="local", CHATBOT_DIALOGUE_MODEL=str(tmp_path)):
        first = loading.generator_get()
        again = loading.generator_get()
    assert first is again  # loaded once per process
    assert [call.location for call in loads] == [str(tmp_path)]


def test_a_promoted_version_is_loaded_on_the_next_reply_and_a_rollback_returns_to_the_previous(
    loads: list[LoadedModel], tmp_path: Path
) -> None:
    older = version(tmp_path, "dialogue-a")
    newer = version(tmp_path, "dialogue-b")
    with override_settings(CHATBOT_GENERATOR="local"):
        model_version_promote(version=older)
        assert loading.generator_get() == LoadedModel(older.path, "dialogue-a")
        model_version_promote(version=newer)
        assert loading.generator_get() == LoadedModel(newer.path, "dialogue-b")
        loading.generator_get()
        model_version_rollback(kind="dialogue")
        assert loading.generator_get() == LoadedModel(older.path, "dialogue-a")
    assert len(loads) == 3  # no reload while the active version stays the same


def test_the_openai_backend_is_built_from_settings(loads: list[LoadedModel]) -> None:
    with override_settings(
        CHATBOT_GENERATOR="openai", CHATBOT_GENERATOR_URL="http://gpu-1:8000/v1", CHATBOT_GENERATOR_MODEL="qwen"
    ):
        generator = loading.generator_get()
    assert generator is not None and generator.name == "openai:qwen"
    assert loads == []
