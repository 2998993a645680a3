from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from chatbot.registry.models import ActivationAction, ActivationEvent, ModelVersion
from chatbot.registry.selectors import model_version_active, model_versions_list
from chatbot.registry.services import (
    ModelRegistryError,
    model_version_promote,
    model_version_register,
    model_version_rollback,
)
from tests.registry.conftest import MANIFEST

pytestmark = pytest.mark.django_db

Register = Callable[..., ModelVersion]


def active_names(kind: str = "intents") -> list[str]:
    return list(ModelVersion.objects.filter(kind=kind, is_active=True).values_list("name", flat=True))


def test_a_registered_version_keeps_its_files_manifest_and_metrics_and_is_not_yet_active(tmp_path: Path) -> None:
    version = model_version_register(
        kind="dialogue",
        name="smollm2-bitext-20261125-1612",
        path=tmp_path,
        base_model="HuggingFaceTB/SmolLM2-360M-Instruct",
        manifest=MANIFEST,
        metrics={"rougeL": 0.41},
    )
    version.refresh_from_db()
    assert version.path == str(tmp_path.resolve())
    assert version.manifest == MANIFEST
    assert version.metrics == {"rougeL": 0.41}
    assert version.created_at is not None
    assert not version.is_active
    assert version.activated_at is None
    assert model_version_active(kind="dialogue") is None


def test_a_version_registered_with_activate_is_the_active_one(register: Register) -> None:
    version = register("v1", activate=True)
    assert version.is_active
    assert model_version_active(kind="intents") == version


def test_registering_a_missing_path_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        model_version_register(kind="intents", name="v1", path=tmp_path / "nowhere", manifest={}, metrics={})
    assert not ModelVersion.objects.exists()


def test_registering_a_file_instead_of_a_directory_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(ValueError, match="not a directory"):
        model_version_register(kind="intents", name="v1", path=weights, manifest={}, metrics={})


def test_registering_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelRegistryError, match="Unknown model kind 'translation'"):
        model_version_register(kind="translation", name="v1", path=tmp_path, manifest={}, metrics={})


def test_a_name_is_unique_per_kind_but_may_repeat_across_kinds(register: Register) -> None:
    first = register("v1", kind="intents")
    register("v1", kind="sentiment")
    with pytest.raises(ModelRegistryError, match="already registered"):
        model_version_register(kind="intents", name="v1", path=first.path, manifest={}, metrics={})


def test_promoting_leaves_exactly_one_active_version_of_the_kind(register: Register) -> None:
    first, second = register("v1", activate=True), register("v2")
    other_kind = register("s1", kind="sentiment", activate=True)

    promoted = model_version_promote(version=second, by="alice")

    assert promoted.is_active and promoted.activated_at is not None
    assert active_names() == ["v2"]
    assert model_version_active(kind="intents") == second
    first.refresh_from_db()
    assert not first.is_active
    assert model_version_active(kind="sentiment") == other_kind
    event = ActivationEvent.objects.order_by("-pk").first()
    assert event is not None
    assert (event.model_version, event.action, event.by) == (second, ActivationAction.PROMOTE, "alice")


def test_promoting_the_active_version_changes_nothing(register: Register) -> None:
    version = register("v1", activate=True)
    events = ActivationEvent.objects.count()
    model_version_promote(version=version)
    assert ActivationEvent.objects.count() == events
    assert active_names() == ["v1"]


def test_rollback_returns_to_the_previously_active_version(register: Register) -> None:
    register("v1", activate=True)
    register("v2", activate=True)

    restored = model_version_rollback(kind="intents", by="bob")

    assert restored.name == "v1"
    assert active_names() == ["v1"]
    event = ActivationEvent.objects.order_by("-pk").first()
    assert event is not None
    assert (event.action, event.by) == (ActivationAction.ROLLBACK, "bob")


def test_rolling_back_again_goes_further_back_rather_than_flip_flopping(register: Register) -> None:
    for name in ("v1", "v2", "v3"):
        register(name, activate=True)

    assert model_version_rollback(kind="intents").name == "v2"
    assert model_version_rollback(kind="intents").name == "v1"
    with pytest.raises(ModelRegistryError, match="no earlier one"):
        model_version_rollback(kind="intents")
    assert active_names() == ["v1"]


def test_a_rollback_after_a_new_promote_returns_to_the_version_it_replaced(register: Register) -> None:
    for name in ("v1", "v2"):
        register(name, activate=True)
    model_version_rollback(kind="intents")
    register("v3", activate=True)

    assert model_version_rollback(kind="intents").name == "v1"


def test_rollback_with_no_history_errors_clearly(register: Register) -> None:
    register("v1")
    with pytest.raises(ModelRegistryError, match="No intents version has ever been active"):
        model_version_rollback(kind="intents")


def test_rollback_of_the_first_active_version_errors_clearly(register: Register) -> None:
    register("v1", activate=True)
    with pytest.raises(ModelRegistryError, match="v1 is the first intents version"):
        model_version_rollback(kind="intents")
    assert active_names() == ["v1"]


def test_the_database_itself_refuses_a_second_active_version_of_a_kind(register: Register) -> None:
    register("v1", activate=True)
    second = register("v2")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(is_active=True)


def test_versions_are_listed_by_kind_newest_first(register: Register) -> None:
    register("s1", kind="sentiment")
    register("v1")
    register("v2")
    assert [v.name for v in model_versions_list()] == ["v2", "v1", "s1"]
    assert [v.name for v in model_versions_list(kind="sentiment")] == ["s1"]
