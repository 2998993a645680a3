"""The site's webhook endpoints and their delivery log: list, read, create, change, delete, rotate
the secret, enable again, replay a delivery. Every write goes through the services the console's
Webhooks page uses (chatbot.webhooks.services), which check the URL (https, no credentials, no
loopback, private or link-local address) and the events; what they refuse is a 422. A signing
secret is in the answer only where it is made: creating the endpoint and rotating its secret."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.params import functions as param
from ninja.responses import Status
from pydantic import AfterValidator, Field, StringConstraints

from chatbot.api.auth import ApiKeyAuth, key_of
from chatbot.api.errors import ApiError
from chatbot.api_keys.models import ApiKey, Scope
from chatbot.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint
from chatbot.webhooks.selectors import (
    webhook_deliveries_page,
    webhook_delivery_get,
    webhook_endpoint_get,
    webhook_endpoints_list,
)
from chatbot.webhooks.services import (
    WebhookEndpointError,
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
)

router = Router(tags=["webhooks"], auth=ApiKeyAuth(Scope.WEBHOOKS))

PAGE_MAX = 200
OVERLAP_MAX_H = 24 * 7


def _url_valid(url: str) -> str:
    """The syntax check of the console form's URL field (Django's URLValidator); what may be
    delivered to (scheme, host, address) is the service's check."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError as exc:
        raise ValueError("Enter a valid URL.") from exc
    return url


Url = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_url_valid)
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Events = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType.values))]


class EndpointIn(Schema):
    url: Url = Field(description="https:// (http:// only where private addresses are allowed)")
    events: Events = Field(description="The event types it receives.")
    description: Description = ""


class EndpointPatch(Schema):
    url: Url | None = None
    events: Events | None = None
    description: Description | None = None


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    is_active: bool
    disabled_at: datetime | None
    disabled_reason: str
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are signed with the previous secret too (after a rotation)."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The signing secret; shown only in this answer.")


class EndpointPage(Schema):
    results: list[EndpointOut]


class RotateIn(Schema):
    overlap_hours: int | None = Field(
        None,
        ge=0,
        le=OVERLAP_MAX_H,
        description="How long the old secret keeps signing beside the new one; 0 drops it now (a leaked "
        "secret). Default: CHATBOT_WEBHOOK_ROTATION_OVERLAP_H.",
    )


class DeliveryOut(Schema):
    id: int
    delivery_id: UUID = Field(alias="public_id", description="The X-Chatbot-Delivery header it was sent with.")
    endpoint: int = Field(alias="endpoint_id")
    event_id: str
    event_type: str
    status: str
    response_code: int | None
    duration_ms: int | None
    attempts: int
    error: str
    next_attempt_at: datetime | None
    replay_of: int | None = Field(alias="replay_of_id")
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(Schema):
    results: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next (older) page; null on the last.")


def _endpoint(api_key: ApiKey, endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id, site_ids=[api_key.site_id])
    if endpoint is None:
        raise ApiError(404, "not_found", f"No webhook endpoint {endpoint_id}.")
    return endpoint


def _refused(exc: WebhookEndpointError) -> ApiError:
    return ApiError(422, "validation_error", str(exc))


@router.get("/webhooks/endpoints", response=EndpointPage, summary="The site's webhook endpoints")
def endpoint_list(request: HttpRequest) -> dict[str, Any]:
    return {"results": list(webhook_endpoints_list(site_ids=[key_of(request).site_id]))}


@router.post(
    "/webhooks/endpoints",
    response={201: EndpointWithSecret},
    summary="Add a webhook endpoint",
    description="The answer has the endpoint's signing secret, the only time the API shows it.",
)
def endpoint_create(request: HttpRequest, payload: EndpointIn) -> Status[WebhookEndpoint]:
    try:
        endpoint = webhook_endpoint_create(
            site=key_of(request).site,
            url=payload.url,
            events=[event.value for event in payload.events],
            description=payload.description,
        )
    except WebhookEndpointError as exc:
        raise _refused(exc) from exc
    return Status(201, endpoint)


@router.get("/webhooks/endpoints/{int:endpoint_id}", response=EndpointOut, summary="One webhook endpoint")
def endpoint_get(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    return _endpoint(key_of(request), endpoint_id)


@router.patch(
    "/webhooks/endpoints/{int:endpoint_id}",
    response=EndpointOut,
    summary="Change a webhook endpoint's URL, events or description",
)
def endpoint_patch(request: HttpRequest, endpoint_id: int, payload: EndpointPatch) -> WebhookEndpoint:
    endpoint = _endpoint(key_of(request), endpoint_id)
    events = [event.value for event in payload.events] if payload.events is not None else endpoint.events
    try:
        return webhook_endpoint_update(
            endpoint=endpoint,
            url=payload.url if payload.url is not None else endpoint.url,
            events=events,
            description=payload.description if payload.description is not None else endpoint.description,
        )
    except WebhookEndpointError as exc:
        raise _refused(exc) from exc


@router.delete("/webhooks/endpoints/{int:endpoint_id}", response={204: None}, summary="Delete a webhook endpoint")
def endpoint_remove(request: HttpRequest, endpoint_id: int) -> Status[None]:
    webhook_endpoint_delete(endpoint=_endpoint(key_of(request), endpoint_id))
    return Status(204, None)


@router.post(
    "/webhooks/endpoints/{int:endpoint_id}/rotate-secret",
    response=EndpointWithSecret,
    summary="Give a webhook endpoint a new signing secret",
    description="The answer has the new secret, the only time the API shows it. During the overlap every delivery "
    "is signed with both secrets (two v1= entries, the new one first).",
)
def endpoint_rotate(request: HttpRequest, endpoint_id: int, payload: RotateIn | None = None) -> WebhookEndpoint:
    endpoint = _endpoint(key_of(request), endpoint_id)
    hours = payload.overlap_hours if payload is not None else None
    if hours is None:
        hours = settings.CHATBOT_WEBHOOK_ROTATION_OVERLAP_H
    return webhook_endpoint_secret_rotate(endpoint=endpoint, overlap=timedelta(hours=hours))


@router.post(
    "/webhooks/endpoints/{int:endpoint_id}/enable",
    response=EndpointOut,
    summary="Deliver to a disabled webhook endpoint again",
)
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    return webhook_endpoint_enable(endpoint=_endpoint(key_of(request), endpoint_id))


@router.get(
    "/webhooks/endpoints/{int:endpoint_id}/deliveries",
    response=DeliveryPage,
    summary="A webhook endpoint's delivery log",
    description="Newest first, `limit` at a time; follow `next_cursor`.",
)
def delivery_list(
    request: HttpRequest,
    endpoint_id: int,
    cursor: str = param.Query("", max_length=20),
    limit: int = param.Query(50, ge=1, le=PAGE_MAX),
) -> dict[str, Any]:
    endpoint = _endpoint(key_of(request), endpoint_id)
    if cursor and not cursor.isdigit():
        raise ApiError(422, "validation_error", "cursor: use the next_cursor of the previous page.")
    page = list(webhook_deliveries_page(endpoint=endpoint, before_id=int(cursor) if cursor else None, limit=limit + 1))
    more = len(page) > limit
    page = page[:limit]
    return {"results": page, "next_cursor": str(page[-1].pk) if more else None}


@router.post(
    "/webhooks/deliveries/{int:delivery_id}/replay",
    response={202: DeliveryOut},
    summary="Send a delivery's event again",
    description="A new delivery of the same body and event id (a new delivery id), attempted at once.",
)
def delivery_replay(request: HttpRequest, delivery_id: int) -> Status[WebhookDelivery]:
    delivery = webhook_delivery_get(delivery_id=delivery_id, site_ids=[key_of(request).site_id])
    if delivery is None:
        raise ApiError(404, "not_found", f"No webhook delivery {delivery_id}.")
    try:
        replay = webhook_delivery_replay(delivery=delivery)
    except WebhookEndpointError as exc:
        raise ApiError(409, "endpoint_disabled", str(exc)) from exc
    return Status(202, replay)
