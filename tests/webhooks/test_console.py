"""The console's webhook pages: organisation admins add endpoints, see and rotate the secret,
read the delivery log and replay; operators and other organisations' admins get nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from chatbot.console.models import Role
from chatbot.sites.models import Organisation, Site
from chatbot.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from chatbot.webhooks.services import webhook_deliveries_retry_due, webhook_event_emit
from tests.console.conftest import make_operator
from tests.webhooks.test_deliveries import verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(shop_site: Any) -> Client:
    client = Client()
    client.force_login(make_operator("ada", sites=[], role=Role.ADMIN).user)
    return client


def test_an_admin_adds_an_endpoint_sees_its_secret_and_rotates_it(admin_client: Client, shop_site: Any) -> None:
    response = admin_client.post(
        "/console/webhooks/new/",
        {"site": shop_site.pk, "url": "http://127.0.0.1:9/hooks", "events": ["message.created", "rating.created"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/console/webhooks/{endpoint.pk}/"
    assert endpoint.events == ["message.created", "rating.created"] and endpoint.secret.startswith("whsec_")

    page = admin_client.get(f"/console/webhooks/{endpoint.pk}/")
    assert endpoint.secret in page.content.decode() and page["Cache-Control"] == "no-store"

    old = endpoint.secret
    admin_client.post(f"/console/webhooks/{endpoint.pk}/rotate/", {"overlap_hours": "2"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    page = admin_client.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret in page and 'data-testid="rotation-overlap"' in page


def test_a_forbidden_url_is_refused_with_the_reason(settings: Any, admin_client: Client, shop_site: Any) -> None:
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        "/console/webhooks/new/",
        {"site": shop_site.pk, "url": "https://169.254.169.254/latest", "events": ["message.created"]},
    )
    assert response.status_code == 400 and "link-local" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_each_delivery_and_a_replay_sends_the_event_again(
    admin_client: Client, shop_site: Any, start_receiver: Any
) -> None:
    receiver = start_receiver("500,200")
    admin_client.post(
        "/console/webhooks/new/", {"site": shop_site.pk, "url": receiver.url, "events": ["rating.created"]}
    )
    endpoint = WebhookEndpoint.objects.get()
    webhook_event_emit(site_id=shop_site.pk, event_type="rating.created", data={"rating": 4})
    webhook_deliveries_retry_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_code == 500

    page = admin_client.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
    assert str(delivery.public_id) in page and "500" in page and " ms" in page

    # The original's own retry waits; the replay goes now.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    admin_client.post(f"/console/webhooks/deliveries/{delivery.pk}/replay/")
    webhook_deliveries_retry_due()
    replay = WebhookDelivery.objects.get(replay_of=delivery)
    assert replay.status == DeliveryStatus.SUCCEEDED and replay.event_id == delivery.event_id
    assert replay.body == delivery.body and replay.public_id != delivery.public_id
    assert [r["body"] for r in receiver.requests()] == [delivery.body, delivery.body]


def test_operators_and_other_organisations_admins_get_nothing(shop_site: Any) -> None:
    other = Organisation.objects.create(name="Rival", slug="rival")
    rival_site = Site.objects.create(key="rival", name="Rival", organisation=other)
    endpoint = WebhookEndpoint.objects.create(site=shop_site, url="https://hooks.example.com/", events=[], secret="s")
    operator, rival_admin = Client(), Client()
    operator.force_login(make_operator("olly", sites=[shop_site]).user)
    rival = make_operator("rita", sites=[], role=Role.ADMIN)
    rival.organisation = other
    rival.save()
    rival_admin.force_login(rival.user)

    assert operator.get("/console/webhooks/").status_code == 403
    assert rival_admin.get(f"/console/webhooks/{endpoint.pk}/").status_code == 404
    assert rival_admin.post(f"/console/webhooks/{endpoint.pk}/rotate/", {"overlap_hours": "0"}).status_code == 404
    assert rival_admin.post(f"/console/webhooks/{endpoint.pk}/delete/").status_code == 404
    listing = rival_admin.get("/console/webhooks/").content.decode()
    assert "hooks.example.com" not in listing and f'value="{shop_site.pk}"' not in listing
    assert f'value="{rival_site.pk}"' in listing
    response = rival_admin.post(
        "/console/webhooks/new/", {"site": shop_site.pk, "url": "https://x.example.com/", "events": ["rating.created"]}
    )
    assert response.status_code == 400 and WebhookEndpoint.objects.count() == 1


def test_the_secret_the_console_shows_is_the_one_that_signs(
    admin_client: Client, shop_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver = start_receiver("200")
    admin_client.post(
        "/console/webhooks/new/", {"site": shop_site.pk, "url": receiver.url, "events": ["rating.created"]}
    )
    endpoint = WebhookEndpoint.objects.get()

    def shown_secret() -> str:
        page = admin_client.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
        match = re.search(r'value="([^"]+)" aria-label="The signing secret"', page)
        assert match is not None
        return match.group(1)

    def last_request_verifies_with(secret: str) -> bool:
        request = receiver.requests()[-1]
        return verify(secret, request["headers"]["X-Chatbot-Signature"], request["body"].encode())

    before = shown_secret()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit(site_id=shop_site.pk, event_type="rating.created", data={"rating": 5})
    assert last_request_verifies_with(before)

    admin_client.post(f"/console/webhooks/{endpoint.pk}/rotate/", {"overlap_hours": "1"})
    after = shown_secret()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit(site_id=shop_site.pk, event_type="rating.created", data={"rating": 4})
    assert after != before and last_request_verifies_with(after) and last_request_verifies_with(before)
