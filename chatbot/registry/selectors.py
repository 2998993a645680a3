"""Reads of the model registry."""

from __future__ import annotations

from django.db.models import QuerySet

from chatbot.registry.models import ActivationEvent, ModelVersion


def model_version_active(*, kind: str) -> ModelVersion | None:
    """The version of `kind` to serve, or None. Cheap enough to call on every worker task: one
    query on the one-active-per-kind index. Compare its `pk` (or `path`) with what is loaded."""
    return ModelVersion.objects.filter(kind=kind, is_active=True).first()


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
