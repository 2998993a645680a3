"""Webhook endpoints and the delivery of events to them.

An event (`webhook_event_emit`) becomes one delivery per subscribed, enabled endpoint of its site,
each attempted by a task (`dispatch.delivery_dispatch`). A delivery that fails (no answer, or not a
2xx) is tried again after an exponentially growing, jittered delay, for up to
CHATBOT_WEBHOOK_RETRY_FOR_S after the event; one whose URL is refused (SSRF) fails at once. An
endpoint whose attempts keep failing (CHATBOT_WEBHOOK_DISABLE_AFTER_FAILURES in a row, over at least
CHATBOT_WEBHOOK_DISABLE_AFTER_S) is disabled; the console says so and, when e-mail is set up, its
organisation's admins are told."""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chatbot.console.models import Operator, Role
from chatbot.sites.models import Site
from chatbot.webhooks import transport
from chatbot.webhooks.dispatch import delivery_dispatch
from chatbot.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint
from chatbot.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
USER_AGENT = "chatbot-webhooks/1"
LOG_ATTEMPTS = 30  # attempts kept in a delivery's log (the count keeps going)


class WebhookEndpointError(ValueError):
    """The endpoint's settings can't be used; the message says why, for the person editing it."""


def _secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _events_checked(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EventType.values]
    if unknown:
        raise WebhookEndpointError(f"Unknown event {unknown[0]!r}; use {', '.join(EventType.values)}.")
    if not chosen:
        raise WebhookEndpointError("Choose at least one event.")
    return chosen


def _url_checked(url: str) -> str:
    url = url.strip()
    problem = transport.url_problem(url)
    if problem is not None:
        raise WebhookEndpointError(problem)
    return url


def webhook_endpoint_create(*, site: Site, url: str, events: Iterable[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint of `site` with a fresh secret (shown in the console)."""
    return WebhookEndpoint.objects.create(
        site=site,
        url=_url_checked(url),
        events=_events_checked(events),
        description=description.strip()[:200],
        secret=_secret_new(),
    )


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, events: Iterable[str], description: str = ""
) -> WebhookEndpoint:
    endpoint.url = _url_checked(url)
    endpoint.events = _events_checked(events)
    endpoint.description = description.strip()[:200]
    endpoint.save(update_fields=["url", "events", "description", "updated_at"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint, overlap: timedelta) -> WebhookEndpoint:
    """A new secret from now on; until `overlap` has passed, deliveries are signed with the old one
    too (a zero overlap drops it at once, for a secret that leaked)."""
    now = timezone.now()
    if overlap > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret = ""
        endpoint.previous_secret_expires_at = None
    endpoint.secret = _secret_new()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


def webhook_secrets_in_use(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one while the
    rotation's overlap lasts."""
    now = now or timezone.now()
    in_use = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        in_use.append(endpoint.previous_secret)
    return in_use


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Deliver to a disabled endpoint again, its failure count started afresh."""
    endpoint.is_active = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    endpoint.save(
        update_fields=[
            "is_active",
            "disabled_at",
            "disabled_reason",
            "consecutive_failures",
            "failing_since",
            "updated_at",
        ]
    )
    return endpoint


# The event types some enabled endpoint of a site subscribes to: every stored message asks, and
# most sites have no endpoint. Kept in the cache (shared by the processes when it is Redis) and,
# for EVENT_TYPES_LOCAL_S, in this process. Saving or deleting an endpoint forgets its site's entry
# in both (receivers.py): another process sees the change within EVENT_TYPES_LOCAL_S. The cache's
# timeout bounds what a race between a reader and a change could leave behind.
EVENT_TYPES_CACHE_S = 60
EVENT_TYPES_LOCAL_S = 1.0
_event_types_local: dict[int, tuple[float, frozenset[str]]] = {}


def _event_types_key(site_id: int) -> str:
    return f"webhooks:event-types:{site_id}"


def site_event_types(site_id: int) -> frozenset[str]:
    """The event types that at least one enabled endpoint of `site_id` subscribes to."""
    now = time.monotonic()
    local = _event_types_local.get(site_id)
    if local is not None and now - local[0] < EVENT_TYPES_LOCAL_S:
        return local[1]
    key = _event_types_key(site_id)
    cached = cache.get(key)
    if cached is None:
        rows = WebhookEndpoint.objects.filter(site_id=site_id, is_active=True).values_list("events", flat=True)
        cached = sorted({event for events in rows for event in events or []})
        cache.set(key, cached, timeout=EVENT_TYPES_CACHE_S)
    types = frozenset(cached)
    _event_types_local[site_id] = (now, types)
    return types


def site_event_types_forget(site_id: int) -> None:
    """An endpoint of `site_id` was saved or deleted: the next event reads them again."""
    _event_types_local.pop(site_id, None)
    cache.delete(_event_types_key(site_id))


def webhook_event_emit(
    *,
    site_id: int,
    event_type: str,
    data: dict[str, Any] | Callable[[], dict[str, Any]],
    conversation_id: int | None = None,
) -> list[WebhookDelivery]:
    """One event of `site_id`: a delivery for each enabled endpoint that subscribes to it, each
    attempted once the caller's transaction commits. `data` may be a function, called only when
    some endpoint subscribes (most events of most sites go nowhere)."""
    if event_type not in site_event_types(site_id):
        return []
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(site_id=site_id, is_active=True) if event_type in (e.events or [])
    ]
    if not endpoints:
        return []
    now = timezone.now()
    if callable(data):
        data = data()
    event_id = f"evt_{uuid.uuid4().hex}"
    event = {"id": event_id, "type": event_type, "created": int(now.timestamp()), "data": data}
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=e,
                event_id=event_id,
                event_type=event_type,
                conversation_id=conversation_id,
                body=body,
                next_attempt_at=now,
            )
            for e in endpoints
        ]
    )
    ids = [d.pk for d in deliveries]

    def dispatch_all() -> None:
        for pk in ids:
            delivery_dispatch(pk)

    transaction.on_commit(dispatch_all)
    return deliveries


def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again (the same body and event id, a new delivery id)."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        raise WebhookEndpointError("The endpoint is disabled; enable it first.")
    replay = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        conversation_id=delivery.conversation_id,
        body=delivery.body,
        replay_of=delivery,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: delivery_dispatch(replay.pk))
    return replay


def retry_delay_s(attempts: int) -> float:
    """How long to wait after the `attempts`-th failed attempt: doubling from
    CHATBOT_WEBHOOK_RETRY_BASE_S up to CHATBOT_WEBHOOK_RETRY_MAX_S, of which a random half
    ("equal jitter"), so that endpoints that failed together are not all tried again together."""
    ceiling = float(
        min(settings.CHATBOT_WEBHOOK_RETRY_MAX_S, settings.CHATBOT_WEBHOOK_RETRY_BASE_S * 2 ** (attempts - 1))
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not a secret


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt, if it is open and due. The claim moves its next attempt
    past the attempt's longest duration, so a second task for it (a redelivered one, the due sweep)
    does nothing, and an attempt whose process died is picked up by the sweep after that."""
    lease = now + timedelta(seconds=settings.CHATBOT_WEBHOOK_TIMEOUT_S * 2 + 30)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    return bool(WebhookDelivery.objects.filter(due, pk=delivery_id, status__in=OPEN).update(next_attempt_at=lease))


def webhook_delivery_attempt(delivery_id: int) -> WebhookDelivery | None:
    """Attempt a delivery once (the task's body). Returns it, or None when it was not open and due."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        return _finish(delivery, status=DeliveryStatus.FAILED, error="the endpoint is disabled")

    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secrets=webhook_secrets_in_use(endpoint), timestamp=timestamp, body=body),
        DELIVERY_HEADER: str(delivery.public_id),
        EVENT_HEADER: delivery.event_type,
    }
    refused = False
    try:
        result = transport.post(
            url=endpoint.url, body=body, headers=headers, timeout=settings.CHATBOT_WEBHOOK_TIMEOUT_S
        )
    except transport.DeliveryRefused as exc:
        refused = True
        result = transport.PostResult(None, 0, f"refused: {exc}"[:300])
    succeeded = result.response_code is not None and 200 <= result.response_code < 300
    done = timezone.now()
    delivery.attempts += 1
    delivery.response_code = result.response_code
    delivery.duration_ms = result.duration_ms
    delivery.error = result.error or ("" if succeeded else f"the receiver answered {result.response_code}")
    delivery.attempt_log = [
        *delivery.attempt_log[-(LOG_ATTEMPTS - 1) :],
        {
            "at": done.isoformat(),
            "response_code": result.response_code,
            "duration_ms": result.duration_ms,
            "error": delivery.error,
        },
    ]
    _endpoint_attempted(endpoint.pk, succeeded=succeeded, now=done)
    if succeeded:
        return _finish(delivery, status=DeliveryStatus.SUCCEEDED)
    delay = retry_delay_s(delivery.attempts)
    give_up_at = delivery.created_at + timedelta(seconds=settings.CHATBOT_WEBHOOK_RETRY_FOR_S)
    if refused or done + timedelta(seconds=delay) > give_up_at:
        return _finish(delivery, status=DeliveryStatus.FAILED)
    delivery.status = DeliveryStatus.RETRYING
    delivery.next_attempt_at = done + timedelta(seconds=delay)
    _save(delivery)
    transaction.on_commit(lambda: delivery_dispatch(delivery.pk, delay_s=delay))
    return delivery


_RESULT_FIELDS = ["status", "attempts", "response_code", "duration_ms", "error", "attempt_log", "next_attempt_at"]


def _save(delivery: WebhookDelivery) -> None:
    delivery.save(update_fields=[*_RESULT_FIELDS, "finished_at"])


def _finish(delivery: WebhookDelivery, *, status: str, error: str | None = None) -> WebhookDelivery:
    delivery.status = status
    if error is not None:
        delivery.error = error
    delivery.next_attempt_at = None
    delivery.finished_at = timezone.now()
    _save(delivery)
    return delivery


def _endpoint_attempted(endpoint_id: int, *, succeeded: bool, now: datetime) -> None:
    """Count the endpoint's run of failures, and disable it once the run is long enough."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return
        if succeeded:
            if endpoint.consecutive_failures:
                endpoint.consecutive_failures = 0
                endpoint.failing_since = None
                endpoint.save(update_fields=["consecutive_failures", "failing_since"])
            return
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or now
        fields = ["consecutive_failures", "failing_since"]
        failing_for = now - endpoint.failing_since
        if (
            endpoint.is_active
            and endpoint.consecutive_failures >= settings.CHATBOT_WEBHOOK_DISABLE_AFTER_FAILURES
            and failing_for >= timedelta(seconds=settings.CHATBOT_WEBHOOK_DISABLE_AFTER_S)
        ):
            endpoint.is_active = False
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"{endpoint.consecutive_failures} deliveries in a row failed over {_duration(failing_for)}."
            )[:300]
            fields += ["is_active", "disabled_at", "disabled_reason"]
            transaction.on_commit(lambda: _disabled_notify(endpoint))
        endpoint.save(update_fields=fields)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds} s"


def _disabled_notify(endpoint: WebhookEndpoint) -> None:
    """Log the disabling, and mail the admins of the site's organisation when e-mail is set up."""
    site = Site.objects.get(pk=endpoint.site_id)
    logger.warning("webhook endpoint %s of site %s disabled: %s", endpoint.pk, site.key, endpoint.disabled_reason)
    if not settings.CHATBOT_NOTIFY_BY_EMAIL:
        return
    recipients = sorted(
        {
            email
            for email in Operator.objects.filter(organisation=site.organisation, role=Role.ADMIN)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        }
    )
    if recipients:
        send_mail(
            subject=f"Webhook endpoint disabled: {endpoint.url}",
            message=(
                f"The webhook endpoint {endpoint.url} of the site {site.name} ({site.key}) was disabled: "
                f"{endpoint.disabled_reason}\nFix the receiver, then enable it again in the console (Webhooks); "
                "failed deliveries can be replayed there."
            ),
            from_email=None,
            recipient_list=recipients,
            fail_silently=True,
        )


def webhook_deliveries_prune(*, now: datetime | None = None) -> int:
    """Delete the delivery log older than CHATBOT_WEBHOOK_LOG_DAYS (finished deliveries only).
    Returns how many were deleted."""
    before = (now or timezone.now()) - timedelta(days=settings.CHATBOT_WEBHOOK_LOG_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(created_at__lt=before).exclude(status__in=OPEN).delete()
    return deleted


def webhook_deliveries_resume(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Queue every open delivery again for its next attempt (now, if that is past): what a web
    process that delivers in-process (CHATBOT_DISPATCH=inprocess, whose retries wait on timers
    that died with the previous process) does when it starts. A delivery queued twice is attempted
    once (`_claim`). Returns how many were queued."""
    now = now or timezone.now()
    open_deliveries = list(
        WebhookDelivery.objects.filter(status__in=OPEN)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:limit]
    )
    for pk, due in open_deliveries:
        delivery_dispatch(pk, delay_s=max(0.0, (due - now).total_seconds()) if due is not None else 0.0)
    return len(open_deliveries)


def webhook_deliveries_retry_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Attempt the open deliveries whose next attempt is due (a timer or a queued task lost with its
    process, and every retry where nothing schedules them: CHATBOT_DISPATCH=inline). Returns how
    many were attempted."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status__in=OPEN, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if webhook_delivery_attempt(pk) is not None)
