"""An endpoint whose deliveries keep failing is disabled, the console says so, its organisation's
admins are told, and enabling it starts afresh."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from chatbot.console.models import Role
from chatbot.webhooks.models import DeliveryStatus, WebhookDelivery
from chatbot.webhooks.services import (
    webhook_deliveries_retry_due,
    webhook_endpoint_create,
    webhook_endpoint_enable,
    webhook_event_emit,
)
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


def fail_attempts(site: Any, count: int) -> None:
    for _ in range(count):
        webhook_event_emit(site_id=site.pk, event_type="message.created", data={})
        webhook_deliveries_retry_due()
        WebhookDelivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)


def test_an_endpoint_that_keeps_failing_is_disabled_with_a_notice_and_a_mail(
    settings: Any, shop_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CHATBOT_WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.CHATBOT_WEBHOOK_DISABLE_AFTER_S = 0
    settings.CHATBOT_NOTIFY_BY_EMAIL = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    receiver = start_receiver("500")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["message.created"])
    admin = make_operator("ada", sites=[], role=Role.ADMIN)
    admin.user.email = "ada@shop.example.com"
    admin.user.save()

    fail_attempts(shop_site, 2)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 2

    with django_capture_on_commit_callbacks(execute=True):
        fail_attempts(shop_site, 1)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert "3 deliveries in a row failed" in endpoint.disabled_reason
    [message] = mail.outbox
    assert message.to == ["ada@shop.example.com"] and endpoint.url in message.subject

    # New events go nowhere; the console shows the notice on every page and on the endpoint.
    assert webhook_event_emit(site_id=shop_site.pk, event_type="message.created", data={}) == []
    client = Client()
    client.force_login(admin.user)
    inbox = client.get("/console/").content.decode()
    assert 'data-testid="webhooks-disabled"' in inbox and "1 disabled" in inbox
    page = client.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
    assert 'data-testid="disabled-notice"' in page and "3 deliveries in a row failed" in page

    webhook_endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0 and not endpoint.disabled_reason


def test_failures_within_the_period_do_not_disable_an_endpoint_and_a_success_resets_the_count(
    settings: Any, shop_site: Any, start_receiver: Any
) -> None:
    settings.CHATBOT_WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.CHATBOT_WEBHOOK_DISABLE_AFTER_S = 3600
    receiver = start_receiver("500,500,500,500,200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["message.created"])

    fail_attempts(shop_site, 4)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 4  # failing for seconds, not an hour

    webhook_event_emit(site_id=shop_site.pk, event_type="message.created", data={})
    webhook_deliveries_retry_due()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None
