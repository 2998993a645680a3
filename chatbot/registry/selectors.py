"""Reads of the model registry."""

from __future__ import annotations

from django.db.models import QuerySet

from chatbot.registry.models import ActivationEvent, ModelVersion


def model_version_active(*, kind: str, scope: str = "") -> ModelVersion | None:
    """The version of `kind` (shared, or of `scope`, e.g. "site:demo") to serve, or None. Cheap
    enough to call on every worker task: one query on the one-active-per-kind-and-scope index.
    Compare its `pk` (or `path`) with what is loaded."""
    return ModelVersion.objects.filter(kind=kind, scope=scope, is_active=True).first()


def site_scope(site_key: str) -> str:
    """The registry scope of one site's own models."""
    return f"site:{site_key}"


def model_versions_list(*, kind: str | None = None) -> QuerySet[ModelVersion]:
    """Versions grouped by kind, newest first."""
    versions = ModelVersion.objects.all()
    if kind is not None:
        versions = versions.filter(kind=kind)
    return versions.order_by("kind", "-created_at", "-pk")


def model_versions_matching(*, name_or_id: str, kind: str | None = None) -> list[ModelVersion]:
    """Versions named `name_or_id` (of `kind`, if given); failing that, the version with that id."""
    versions = model_versions_list(kind=kind)
    by_name = list(versions.filter(name=name_or_id))
    if by_name or not name_or_id.isdigit():
        return by_name
    return list(versions.filter(pk=int(name_or_id)))


def activation_events_list(*, kind: str | None = None) -> QuerySet[ActivationEvent]:
    """Who made which version active when, newest first."""
    events = ActivationEvent.objects.select_related("model_version")
    if kind is not None:
        events = events.filter(model_version__kind=kind)
    return events.order_by("-pk")
