"""Reads of webhook endpoints and deliveries, always through the sites a caller may see."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import QuerySet

from chatbot.webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoints_list(*, site_ids: Collection[int]) -> QuerySet[WebhookEndpoint]:
    return (
        WebhookEndpoint.objects.filter(site_id__in=list(site_ids)).select_related("site").order_by("site__name", "pk")
    )


def webhook_endpoint_get(*, endpoint_id: int, site_ids: Collection[int]) -> WebhookEndpoint | None:
    return webhook_endpoints_list(site_ids=site_ids).filter(pk=endpoint_id).first()


def webhook_deliveries_list(*, endpoint: WebhookEndpoint, limit: int = 50) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.order_by("-created_at", "-pk")[:limit]


def webhook_deliveries_page(
    *, endpoint: WebhookEndpoint, before_id: int | None = None, limit: int = 50
) -> QuerySet[WebhookDelivery]:
    """A page of the endpoint's delivery log, newest first, older than the delivery `before_id`
    (the previous page's last) when given: the API's cursor."""
    deliveries = endpoint.deliveries.order_by("-pk")
    if before_id is not None:
        deliveries = deliveries.filter(pk__lt=before_id)
    return deliveries[:limit]


def webhook_delivery_get(*, delivery_id: int, site_ids: Collection[int]) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_related("endpoint__site")
        .filter(pk=delivery_id, endpoint__site_id__in=list(site_ids))
        .first()
    )
