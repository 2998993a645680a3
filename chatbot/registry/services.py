"""Registering trained models and choosing which version of each kind is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatbot.registry.models import ActivationAction, ActivationEvent, ModelKind, ModelVersion


class ModelRegistryError(ValueError):
    """A registry request that cannot be carried out; the message says why, for people."""


def model_version_register(
    *,
    kind: str,
    name: str,
    path: str | Path,
    base_model: str = "",
    manifest: dict[str, Any],
    metrics: dict[str, Any],
    activate: bool = False,
    notes: str = "",
    scope: str = "",
) -> ModelVersion:
    """Record a trained model whose files are in the directory `path` (stored resolved);
    with `activate`, promote it too. `scope` is "" for a shared model, "site:KEY" for a site's."""
    _kind_check(kind)
    name = name.strip()
    if not name:
        raise ModelRegistryError("A model version needs a name.")
    directory = Path(path).expanduser()
    if not directory.exists():
        raise ModelRegistryError(f"Model path {str(directory)!r} does not exist.")
    if not directory.is_dir():
        raise ModelRegistryError(f"Model path {str(directory)!r} is not a directory.")
    for label, value in (("manifest", manifest), ("metrics", metrics)):
        if not isinstance(value, dict):
            raise ModelRegistryError(f"The {label} must be a JSON object, not {type(value).__name__}.")
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                kind=kind,
                name=name,
                path=str(directory.resolve()),
                base_model=base_model,
                manifest=manifest,
                metrics=metrics,
                notes=notes,
                scope=scope,
            )
            if activate:
                version = model_version_promote(version=version, by="register")
    except IntegrityError as exc:
        if ModelVersion.objects.filter(kind=kind, name=name).exists():
            raise ModelRegistryError(f"A {kind} version named {name!r} is already registered.") from exc
        raise
    return version


@transaction.atomic
def model_version_promote(*, version: ModelVersion, by: str = "") -> ModelVersion:
    """Make `version` the active one of its kind (and scope). Promoting the active version changes
    nothing."""
    locked = _kind_lock(version.kind, version.scope)
    current = next((v for v in locked if v.is_active), None)
    target = next((v for v in locked if v.pk == version.pk), None)
    if target is None:
        raise ModelRegistryError(f"Model version {version} is not registered.")
    if current is None or current.pk != target.pk:
        _activate(target)
        ActivationEvent.objects.create(
            model_version=target,
            action=ActivationAction.PROMOTE,
            previous=_latest_event(target.kind, target.scope),
            by=by,
        )
    # The caller's instance may predate the lock; bring it up to date rather than hand back a twin.
    version.is_active, version.activated_at = target.is_active, target.activated_at
    return version


@transaction.atomic
def model_version_rollback(*, kind: str, by: str = "", scope: str = "") -> ModelVersion:
    """Re-activate the version that was active before the current one. Rolling back again goes
    one further back, like undo."""
    _kind_check(kind)
    _kind_lock(kind, scope)
    latest = _latest_event(kind, scope)
    if latest is None:
        where = f" ({scope})" if scope else ""
        raise ModelRegistryError(f"No {kind} version{where} has ever been active, so there is nothing to roll back to.")
    if latest.previous is None:
        raise ModelRegistryError(
            f"{latest.model_version.name} is the first {kind} version that was active; "
            "there is no earlier one to roll back to."
        )
    restored = latest.previous
    target = restored.model_version
    _activate(target)
    # The new event takes the restored one's place in the stack, so it inherits its `previous`.
    ActivationEvent.objects.create(
        model_version=target, action=ActivationAction.ROLLBACK, previous=restored.previous, by=by
    )
    return target


def _kind_check(kind: str) -> None:
    if kind not in ModelKind.values:
        raise ModelRegistryError(f"Unknown model kind {kind!r}; expected one of {', '.join(ModelKind.values)}.")


def _kind_lock(kind: str, scope: str) -> list[ModelVersion]:
    """Lock every version of the kind and scope (in id order, so two lockers cannot deadlock) until the
    transaction ends: two concurrent promotes then run one after the other, and the second sees
    the first one's result. SQLite ignores FOR UPDATE; its IMMEDIATE transactions serialise writers."""
    return list(ModelVersion.objects.select_for_update().filter(kind=kind, scope=scope).order_by("pk"))


def _latest_event(kind: str, scope: str) -> ActivationEvent | None:
    # Ids, not times: events of a kind are written under the kind's lock, so ids follow their order.
    return (
        ActivationEvent.objects.filter(model_version__kind=kind, model_version__scope=scope)
        .select_related("model_version", "previous__model_version")
        .order_by("-pk")
        .first()
    )


def _activate(version: ModelVersion) -> None:
    # Deactivate first: the one-active-per-kind index is checked statement by statement.
    ModelVersion.objects.filter(kind=version.kind, scope=version.scope, is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
