"""Reads of API keys."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from chatbot.api_keys.models import ApiKey


def api_keys_for_sites(*, site_ids: Iterable[int], include_revoked: bool = True) -> QuerySet[ApiKey]:
    queryset = ApiKey.objects.filter(site_id__in=list(site_ids)).select_related("site")
    if not include_revoked:
        queryset = queryset.filter(revoked_at__isnull=True)
    return queryset.order_by("-created_at", "-pk")


def api_key_find(*, prefix_or_id: str) -> ApiKey | None:
    """A key by its id or its public prefix (what `api_keys list` shows)."""
    value = prefix_or_id.strip().rstrip("…")
    if value.isdigit():
        return ApiKey.objects.select_related("site").filter(pk=int(value)).first()
    return ApiKey.objects.select_related("site").filter(prefix=value[:16]).first() if value else None
