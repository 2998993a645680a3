from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from chatbot.registry.models import ActivationEvent, ModelVersion
from chatbot.registry.services import ModelRegistryError, model_version_promote, model_version_rollback

KEY_METRICS_SHOWN = 4


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin[ModelVersion]):
    list_display = ("name", "kind", "scope", "is_active", "created_at", "activated_at", "key_metrics")
    list_filter = ("kind", "is_active", "scope")
    search_fields = ("name", "base_model", "notes")
    readonly_fields = ("kind", "scope", "is_active", "activated_at", "created_at")
    actions = ("promote_selected", "rollback_kind")

    # Versions come from `manage.py models register` (or training), which checks the files are
    # there; here they are promoted, rolled back, annotated. Which one is active changes only
    # through the actions, so the history that rollback relies on stays complete.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="key metrics")
    def key_metrics(self, version: ModelVersion) -> str:
        metrics = version.metrics if isinstance(version.metrics, dict) else {}
        numbers = [
            (name, value)
            for name, value in metrics.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        return ", ".join(f"{name} {value:.4g}" for name, value in numbers[:KEY_METRICS_SHOWN]) or "-"

    @admin.action(description="Promote selected version")
    def promote_selected(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        versions = list(queryset[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.WARNING)
            return
        version = model_version_promote(version=versions[0], by=_who(request))
        self.message_user(request, f"{version.name} is now the active {version.kind} model.", messages.SUCCESS)

    @admin.action(description="Roll back this kind to the previous version")
    def rollback_kind(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        kinds = sorted(set(queryset.values_list("kind", "scope")))
        if len(kinds) != 1:
            self.message_user(
                request, "Select versions of one kind (and scope) to roll that kind back.", messages.WARNING
            )
            return
        try:
            version = model_version_rollback(kind=kinds[0][0], scope=kinds[0][1], by=_who(request))
        except ModelRegistryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Rolled back: {version.name} is the active {version.kind} model again.")


@admin.register(ActivationEvent)
class ActivationEventAdmin(admin.ModelAdmin[ActivationEvent]):
    """The activation history, read-only: rollback walks it."""

    list_display = ("at", "action", "model_version", "by")
    list_filter = ("action", "model_version__kind")
    list_select_related = ("model_version",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _who(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"
