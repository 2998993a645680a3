"""The webhooks part of the REST API: a key with the `webhooks` scope manages its site's endpoints
and reads and replays their deliveries, through the services the console uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import TestCase
from django.utils import timezone

from chatbot.sites.models import Site
from chatbot.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint
from chatbot.webhooks.services import webhook_endpoint_create, webhook_event_emit
from tests.api.conftest import Api, error_of
from tests.webhooks import conftest as webhook_fixtures
from tests.webhooks.test_deliveries import verify

pytestmark = pytest.mark.django_db

start_receiver = webhook_fixtures.start_receiver  # a receiver process per test that asks for one

SCOPES = ("chat", "knowledge", "transcripts", "usage", "webhooks")

# Every endpoint, with a request that would succeed.
ENDPOINTS = [
    ("get", "/webhooks/endpoints"),
    ("post", "/webhooks/endpoints"),
    ("get", "/webhooks/endpoints/{eid}"),
    ("patch", "/webhooks/endpoints/{eid}"),
    ("delete", "/webhooks/endpoints/{eid}"),
    ("post", "/webhooks/endpoints/{eid}/rotate-secret"),
    ("post", "/webhooks/endpoints/{eid}/enable"),
    ("get", "/webhooks/endpoints/{eid}/deliveries"),
    ("post", "/webhooks/deliveries/{did}/replay"),
]
BODIES = {
    "/webhooks/endpoints": {"url": "https://hooks.example.com/in", "events": ["rating.created"]},
    "/webhooks/endpoints/{eid}": {"description": "CRM"},
}


def call(api: Api, method: str, path: str, **ids: int) -> Any:
    url = path.format(**ids)
    if method in ("get", "delete"):
        return getattr(api, method)(url)
    return getattr(api, method)(url, BODIES.get(path, {}))


@pytest.fixture(autouse=True)
def private_addresses_refused(settings: Any) -> None:
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = False  # the default; a test that delivers allows them
    settings.CHATBOT_WEBHOOK_TIMEOUT_S = 5.0


@pytest.fixture
def ids(shop_site: Site, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """An endpoint of the shop (at an address that is never posted to: the replays these tests
    make are queued, not attempted) and a failed delivery of it."""
    monkeypatch.setattr("chatbot.webhooks.services.delivery_dispatch", lambda pk, **_: None)
    endpoint = webhook_endpoint_create(site=shop_site, url="https://hooks.example.com/in", events=EventType.values)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="evt_1", event_type="rating.created", body="{}", status="failed"
    )
    return {"eid": endpoint.pk, "did": delivery.pk}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_webhooks_endpoint_answers_401_without_a_key_and_403_without_the_scope(
    method: str, path: str, ids: dict[str, int], shop_site: Site, key_for: Callable[..., str]
) -> None:
    missing = call(Api(None), method, path, **ids)
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "unauthorized"
    others = ",".join(s for s in SCOPES if s != "webhooks")
    refused = call(Api(key_for(shop_site, others)), method, path, **ids)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "missing_scope"
    allowed = call(Api(key_for(shop_site, "webhooks")), method, path, **ids)
    assert allowed.status_code in (200, 201, 202, 204), allowed.content


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in ENDPOINTS if "{" in p])
def test_another_sites_endpoint_or_delivery_is_404_and_stays_as_it_was(
    method: str, path: str, ids: dict[str, int], other_site: Site, key_for: Callable[..., str]
) -> None:
    before = list(WebhookEndpoint.objects.values_list("pk", "url", "secret", "is_active", "events", "description"))
    response = call(Api(key_for(other_site)), method, path, **ids)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    after = list(WebhookEndpoint.objects.values_list("pk", "url", "secret", "is_active", "events", "description"))
    assert after == before
    assert WebhookDelivery.objects.count() == 1


def test_the_schema_lists_the_webhooks_endpoints(api: Api) -> None:
    paths = Api(None).get("/openapi.json").json()["paths"]
    for method, path in ENDPOINTS:
        templated = path.replace("{eid}", "{endpoint_id}").replace("{did}", "{delivery_id}")
        assert method in paths[f"/api/v1{templated}"], (method, path)


def test_an_endpoint_is_created_with_its_secret_shown_once_then_listed_changed_and_deleted(
    api: Api, shop_site: Site, other_site: Site
) -> None:
    webhook_endpoint_create(site=other_site, url="https://other.example.com/in", events=["rating.created"])

    created = api.post(
        "/webhooks/endpoints",
        {"url": "https://crm.example.com/hooks", "events": ["message.created", "rating.created"], "description": "CRM"},
    )

    assert created.status_code == 201, created.content
    body = created.json()
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.site_id == shop_site.pk
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert body["url"] == "https://crm.example.com/hooks"
    assert body["events"] == ["message.created", "rating.created"]
    assert body["description"] == "CRM" and body["is_active"] is True

    listed = api.get("/webhooks/endpoints").json()["results"]
    assert [e["url"] for e in listed] == ["https://crm.example.com/hooks"]  # not the other site's
    got = api.get(f"/webhooks/endpoints/{endpoint.pk}")
    assert got.status_code == 200
    assert "secret" not in got.json() and "secret" not in listed[0]
    assert endpoint.secret not in got.content.decode()

    patched = api.patch(f"/webhooks/endpoints/{endpoint.pk}", {"events": ["conversation.handoff"]})
    assert patched.status_code == 200, patched.content
    endpoint.refresh_from_db()
    assert endpoint.events == ["conversation.handoff"]
    assert endpoint.url == "https://crm.example.com/hooks" and endpoint.description == "CRM"  # kept
    assert patched.json()["events"] == ["conversation.handoff"]

    assert api.delete(f"/webhooks/endpoints/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert api.get(f"/webhooks/endpoints/{endpoint.pk}").status_code == 404


@pytest.mark.parametrize(
    ("url", "events", "says"),
    [
        ("https://127.0.0.1/hooks", ["rating.created"], "may not go to"),
        ("https://10.1.2.3/hooks", ["rating.created"], "may not go to"),
        ("https://169.254.169.254/latest/meta-data", ["rating.created"], "may not go to"),
        ("https://[::ffff:192.168.0.1]/hooks", ["rating.created"], "may not go to"),
        ("https://localhost:8000/hooks", ["rating.created"], "localhost"),
        ("http://hooks.example.com/in", ["rating.created"], "https://"),
        ("https://user:pw@hooks.example.com/in", ["rating.created"], "credentials"),
        ("not a url", ["rating.created"], "url"),
        ("https://hooks.example.com/in", ["order.paid"], "events"),
        ("https://hooks.example.com/in", [], "events"),
    ],
)
def test_a_refused_url_or_an_unknown_event_is_422_and_nothing_is_saved(
    api: Api, url: str, events: list[str], says: str
) -> None:
    response = api.post("/webhooks/endpoints", {"url": url, "events": events})

    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert says in error["message"], error["message"]
    assert not WebhookEndpoint.objects.exists()


def test_a_change_to_a_private_address_is_422_and_the_endpoint_keeps_its_url(api: Api, ids: dict[str, int]) -> None:
    response = api.patch(f"/webhooks/endpoints/{ids['eid']}", {"url": "https://192.168.1.20/hooks"})

    assert response.status_code == 422
    assert "may not go to" in error_of(response)["message"]
    assert WebhookEndpoint.objects.get(pk=ids["eid"]).url == "https://hooks.example.com/in"


def test_rotating_gives_a_new_secret_once_and_the_old_one_signs_during_the_overlap(
    api: Api, ids: dict[str, int]
) -> None:
    old = WebhookEndpoint.objects.get(pk=ids["eid"]).secret

    rotated = api.post(f"/webhooks/endpoints/{ids['eid']}/rotate-secret", {"overlap_hours": 2})

    assert rotated.status_code == 200, rotated.content
    body = rotated.json()
    endpoint = WebhookEndpoint.objects.get(pk=ids["eid"])
    assert body["secret"] == endpoint.secret != old
    assert endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at is not None
    assert abs(endpoint.previous_secret_expires_at - (timezone.now() + timedelta(hours=2))) < timedelta(minutes=1)

    dropped = api.post(f"/webhooks/endpoints/{ids['eid']}/rotate-secret", {"overlap_hours": 0})
    endpoint.refresh_from_db()
    assert dropped.json()["secret"] == endpoint.secret not in (old, body["secret"])
    assert endpoint.previous_secret == "" and endpoint.previous_secret_expires_at is None
    assert api.post(f"/webhooks/endpoints/{ids['eid']}/rotate-secret", {"overlap_hours": -1}).status_code == 422


def test_rotating_without_a_body_keeps_the_old_secret_for_the_configured_overlap(
    settings: Any, api: Api, ids: dict[str, int]
) -> None:
    settings.CHATBOT_WEBHOOK_ROTATION_OVERLAP_H = 5
    response = api.post(f"/webhooks/endpoints/{ids['eid']}/rotate-secret")
    assert response.status_code == 200, response.content
    expires = WebhookEndpoint.objects.get(pk=ids["eid"]).previous_secret_expires_at
    assert expires is not None
    assert abs(expires - (timezone.now() + timedelta(hours=5))) < timedelta(minutes=1)


def test_a_disabled_endpoint_is_enabled_again_and_only_then_replays(api: Api, ids: dict[str, int]) -> None:
    WebhookEndpoint.objects.filter(pk=ids["eid"]).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason="20 failed", consecutive_failures=20
    )
    refused = api.post(f"/webhooks/deliveries/{ids['did']}/replay")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "endpoint_disabled"

    enabled = api.post(f"/webhooks/endpoints/{ids['eid']}/enable")

    assert enabled.status_code == 200
    assert enabled.json()["is_active"] is True and enabled.json()["disabled_at"] is None
    endpoint = WebhookEndpoint.objects.get(pk=ids["eid"])
    assert endpoint.is_active and endpoint.consecutive_failures == 0
    assert api.post(f"/webhooks/deliveries/{ids['did']}/replay").status_code == 202


def test_the_delivery_log_pages_newest_first_with_a_cursor(api: Api, ids: dict[str, int]) -> None:
    endpoint = WebhookEndpoint.objects.get(pk=ids["eid"])
    for n in range(4):
        WebhookDelivery.objects.create(endpoint=endpoint, event_id=f"evt_p{n}", event_type="message.created", body="{}")
    expected = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-pk").values_list("pk", flat=True))

    seen: list[int] = []
    cursor = ""
    for _ in range(5):
        page = api.get(f"/webhooks/endpoints/{endpoint.pk}/deliveries", limit=2, cursor=cursor).json()
        seen += [d["id"] for d in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert api.get(f"/webhooks/endpoints/{endpoint.pk}/deliveries", cursor="x").status_code == 422


def test_deliveries_are_logged_and_a_replay_sends_the_same_event_signed_with_the_secret_the_api_gave(
    settings: Any, api: Api, shop_site: Site, start_receiver: Any
) -> None:
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = True  # the receiver is a process on this machine
    settings.CHATBOT_DISPATCH = "inline"
    receiver = start_receiver("200")
    created = api.post("/webhooks/endpoints", {"url": receiver.url, "events": ["rating.created"]}).json()
    with TestCase.captureOnCommitCallbacks(execute=True):
        webhook_event_emit(site_id=shop_site.pk, event_type="rating.created", data={"rating": 5})

    [logged] = api.get(f"/webhooks/endpoints/{created['id']}/deliveries").json()["results"]

    assert logged["status"] == DeliveryStatus.SUCCEEDED
    assert logged["response_code"] == 200 and logged["attempts"] == 1
    assert logged["duration_ms"] is not None and logged["created_at"]
    [first] = receiver.requests()
    headers = {k.lower(): v for k, v in first["headers"].items()}
    assert headers["x-chatbot-delivery"] == logged["delivery_id"]
    assert verify(created["secret"], headers["x-chatbot-signature"], first["body"].encode())

    replayed = api.post(f"/webhooks/deliveries/{logged['id']}/replay")

    assert replayed.status_code == 202, replayed.content
    assert replayed.json()["replay_of"] == logged["id"]
    _, second = receiver.requests()
    second_headers = {k.lower(): v for k, v in second["headers"].items()}
    assert json.loads(second["body"])["id"] == json.loads(first["body"])["id"]  # the same event
    assert second_headers["x-chatbot-delivery"] != logged["delivery_id"]  # a new delivery
    assert second_headers["x-chatbot-delivery"] == replayed.json()["delivery_id"]
    assert verify(created["secret"], second_headers["x-chatbot-signature"], second["body"].encode())
    log = api.get(f"/webhooks/endpoints/{created['id']}/deliveries").json()["results"]
    assert [d["status"] for d in log] == [DeliveryStatus.SUCCEEDED, DeliveryStatus.SUCCEEDED]
