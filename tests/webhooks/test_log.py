"""The delivery log keeps the customers' words only as long as the rest of their data: erasing a
visitor deletes the deliveries about their conversations, and old deliveries are pruned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chatbot.conversations.models import Visitor
from chatbot.conversations.services import conversation_handoff_request
from chatbot.exports.services import visitor_data_erase
from chatbot.webhooks.models import DeliveryStatus, EventType, WebhookDelivery
from chatbot.webhooks.services import webhook_deliveries_prune, webhook_endpoint_create

pytestmark = pytest.mark.django_db


def test_erasing_a_visitor_deletes_the_deliveries_about_their_conversations(
    shop_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver = start_receiver("200")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=EventType.values)
    erased, kept = Visitor.objects.create(site=shop_site), Visitor.objects.create(site=shop_site)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_handoff_request(visitor=erased)
    with django_capture_on_commit_callbacks(execute=True):
        other = conversation_handoff_request(visitor=kept)
    assert WebhookDelivery.objects.count() == 6  # created, handoff and the system message, twice

    visitor_data_erase(visitor=erased)

    assert set(WebhookDelivery.objects.values_list("conversation_id", flat=True)) == {other.pk}


def test_finished_deliveries_older_than_the_log_days_are_pruned(settings: Any, shop_site: Any) -> None:
    settings.CHATBOT_WEBHOOK_LOG_DAYS = 30
    endpoint = webhook_endpoint_create(site=shop_site, url="http://127.0.0.1:9/", events=["rating.created"])
    old, recent, pending = (
        WebhookDelivery.objects.create(endpoint=endpoint, event_id=f"evt_{n}", event_type="rating.created", body="{}")
        for n in range(3)
    )
    WebhookDelivery.objects.filter(pk__in=[old.pk, recent.pk]).update(status=DeliveryStatus.SUCCEEDED)
    WebhookDelivery.objects.filter(pk__in=[old.pk, pending.pk]).update(created_at=timezone.now() - timedelta(days=31))

    assert webhook_deliveries_prune() == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
