"""Deliveries reach a real receiver process, signed so that an independent verifier accepts them,
and are tried again until the receiver takes them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from chatbot.conversations.services import conversation_start
from chatbot.webhooks import dispatch
from chatbot.webhooks.models import DeliveryStatus, WebhookDelivery
from chatbot.webhooks.services import (
    retry_delay_s,
    webhook_deliveries_resume,
    webhook_deliveries_retry_due,
    webhook_delivery_attempt,
    webhook_endpoint_create,
    webhook_endpoint_secret_rotate,
    webhook_event_emit,
)

pytestmark = pytest.mark.django_db


# The receiver's check, as the README shows it: nothing of the project, only hmac and hashlib.
def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    fields = [part.split("=", 1) for part in header.split(",")]
    timestamp = next(value for key, value in fields if key == "t")
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in fields if key == "v1")


@pytest.fixture
def start(django_capture_on_commit_callbacks: Any) -> Any:
    """`start(site)`: a conversation started and committed (its events sent, its first attempts made)."""

    def started(site: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return conversation_start(site=site)

    return started


def retry_until_settled(delivery: WebhookDelivery, *, rounds: int = 20) -> WebhookDelivery:
    for _ in range(rounds):
        delivery.refresh_from_db()
        if delivery.status not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
            break
        time.sleep(0.06)  # past the (tiny) retry delay
        webhook_deliveries_retry_due()
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_is_signed_so_that_an_independent_verifier_accepts_it(
    shop_site: Any, start_receiver: Any, start: Any
) -> None:
    receiver = start_receiver("200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])

    conversation = start(shop_site)

    [request] = receiver.requests()
    headers, body = request["headers"], request["body"].encode()
    assert verify(endpoint.secret, headers["X-Chatbot-Signature"], body)
    assert not verify("whsec_another", headers["X-Chatbot-Signature"], body)
    assert not verify(endpoint.secret, headers["X-Chatbot-Signature"], body.replace(b"shop", b"shoq"))
    event = json.loads(body)
    assert set(event) == {"id", "type", "created", "data"}
    assert event["type"] == "conversation.created" and event["id"].startswith("evt_")
    assert event["data"]["conversation"]["id"] == conversation.pk and event["data"]["conversation"]["site"] == "shop"
    delivery = WebhookDelivery.objects.get()
    assert headers["X-Chatbot-Delivery"] == str(delivery.public_id)
    assert headers["X-Chatbot-Event"] == "conversation.created"
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.response_code == 200 and delivery.attempts == 1
    assert delivery.duration_ms is not None


def test_a_stale_signature_is_refused_by_the_verifier(shop_site: Any, start_receiver: Any, start: Any) -> None:
    receiver = start_receiver("200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])
    start(shop_site)
    [request] = receiver.requests()
    header = request["headers"]["X-Chatbot-Signature"]

    assert verify(endpoint.secret, header, request["body"].encode())
    assert not verify(endpoint.secret, header, request["body"].encode(), tolerance=-1)


def test_a_receiver_that_fails_at_first_gets_the_same_event_on_a_later_attempt(
    shop_site: Any, start_receiver: Any, start: Any
) -> None:
    receiver = start_receiver("500,503,200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])

    start(shop_site)
    delivery = retry_until_settled(WebhookDelivery.objects.get())

    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    assert [a["response_code"] for a in delivery.attempt_log] == [500, 503, 200]
    requests = receiver.requests()
    assert [r["status"] for r in requests] == [500, 503, 200]
    # The same event and delivery every time, freshly signed each time.
    assert len({r["body"] for r in requests}) == 1
    assert {r["headers"]["X-Chatbot-Delivery"] for r in requests} == {str(delivery.public_id)}
    assert all(verify(endpoint.secret, r["headers"]["X-Chatbot-Signature"], r["body"].encode()) for r in requests)


@pytest.mark.django_db(transaction=True)
def test_in_process_retries_wait_on_timers_and_deliver_without_a_sweep(
    settings: Any, shop_site: Any, start_receiver: Any, start: Any
) -> None:
    settings.CHATBOT_DISPATCH = "inprocess"
    settings.CHATBOT_WEBHOOK_RETRY_BASE_S = 0.2
    settings.CHATBOT_WEBHOOK_RETRY_MAX_S = 0.4
    receiver = start_receiver("500,500,200")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])

    started = time.monotonic()
    start(shop_site)
    deadline = started + 20
    while time.monotonic() < deadline and len(receiver.requests()) < 3:
        time.sleep(0.05)

    assert [r["status"] for r in receiver.requests()] == [500, 500, 200]
    # Two waits of at least half of 0.2 s and 0.4 s (the jitter takes at most half).
    assert time.monotonic() - started >= 0.1 + 0.2
    for _ in range(100):
        delivery = WebhookDelivery.objects.get()
        if delivery.status == DeliveryStatus.SUCCEEDED:
            break
        time.sleep(0.05)
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3


def test_with_celery_a_retry_is_queued_with_its_delay_as_countdown(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHATBOT_DISPATCH = "celery"
    queued: list[tuple[Any, float]] = []

    class FakeTask:
        def apply_async(self, args: Any, countdown: float) -> None:
            queued.append((args, countdown))

    monkeypatch.setattr(dispatch, "import_string", lambda path: FakeTask())
    dispatch.delivery_dispatch(41, delay_s=12.5)
    assert queued == [((41,), 12.5)]


def test_the_delay_doubles_with_jitter_up_to_its_ceiling(settings: Any) -> None:
    settings.CHATBOT_WEBHOOK_RETRY_BASE_S = 30
    settings.CHATBOT_WEBHOOK_RETRY_MAX_S = 3600
    for attempts, ceiling in ((1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (20, 3600)):
        delays = [retry_delay_s(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not one fixed delay


def test_a_delivery_gives_up_after_the_retry_window(settings: Any, shop_site: Any, start_receiver: Any) -> None:
    receiver = start_receiver("500")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])
    # Not committed (the test's transaction): nothing is attempted until the test says so.
    [delivery] = webhook_event_emit(site_id=shop_site.pk, event_type="conversation.created", data={})
    # The event is 24 h old: any further delay would take it past the window.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=24))

    webhook_deliveries_retry_due()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1 and delivery.response_code == 500
    assert delivery.next_attempt_at is None and endpoint.deliveries.count() == 1


def test_during_a_rotation_deliveries_carry_both_signatures_until_the_overlap_ends(
    shop_site: Any, start_receiver: Any, start: Any
) -> None:
    receiver = start_receiver("200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])
    old = endpoint.secret
    webhook_endpoint_secret_rotate(endpoint=endpoint, overlap=timedelta(hours=1))
    new = endpoint.secret
    assert new != old

    start(shop_site)
    during = receiver.requests()[-1]
    header = during["headers"]["X-Chatbot-Signature"]
    assert header.count("v1=") == 2
    assert verify(old, header, during["body"].encode()) and verify(new, header, during["body"].encode())

    endpoint.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    start(shop_site)
    after = receiver.requests()[-1]
    header = after["headers"]["X-Chatbot-Signature"]
    assert header.count("v1=") == 1
    assert verify(new, header, after["body"].encode()) and not verify(old, header, after["body"].encode())


def test_a_rotation_without_overlap_drops_the_old_secret_at_once(
    shop_site: Any, start_receiver: Any, start: Any
) -> None:
    receiver = start_receiver("200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])
    old = endpoint.secret
    webhook_endpoint_secret_rotate(endpoint=endpoint, overlap=timedelta(0))

    start(shop_site)
    request = receiver.requests()[-1]
    assert not verify(old, request["headers"]["X-Chatbot-Signature"], request["body"].encode())
    assert verify(endpoint.secret, request["headers"]["X-Chatbot-Signature"], request["body"].encode())


def test_a_redirect_is_not_followed_and_counts_as_a_failure(shop_site: Any, start_receiver: Any, start: Any) -> None:
    receiver = start_receiver("302")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])

    start(shop_site)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_code == 302
    assert [r["path"] for r in receiver.requests()] == ["/hooks"]


@pytest.mark.django_db(transaction=True)
def test_two_tasks_for_the_same_delivery_post_it_once(shop_site: Any, start_receiver: Any) -> None:
    receiver = start_receiver("200")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=["rating.created"])
    with override_settings(CHATBOT_DISPATCH="celery"), mock.patch.object(dispatch, "task_dispatch"):
        [delivery] = webhook_event_emit(site_id=shop_site.pk, event_type="rating.created", data={})

    def attempt() -> None:
        try:
            webhook_delivery_attempt(delivery.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert len(receiver.requests()) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


def test_a_retry_that_is_not_due_yet_does_nothing(shop_site: Any, start_receiver: Any, start: Any) -> None:
    receiver = start_receiver("500")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.created"])
    start(shop_site)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert webhook_delivery_attempt(delivery.pk) is None
    assert webhook_deliveries_retry_due() == 0
    assert len(receiver.requests()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_restarted_in_process_server_resumes_the_open_deliveries(
    settings: Any, shop_site: Any, start_receiver: Any
) -> None:
    settings.CHATBOT_DISPATCH = "inprocess"
    receiver = start_receiver("200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["rating.created"])
    now = timezone.now()
    overdue, later, done = (
        WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=f"evt_{n}", event_type="rating.created", body=f'{{"n":{n}}}'
        )
        for n in range(3)
    )
    WebhookDelivery.objects.filter(pk=overdue.pk).update(status=DeliveryStatus.RETRYING, next_attempt_at=now)
    WebhookDelivery.objects.filter(pk=later.pk).update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(seconds=0.5)
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(status=DeliveryStatus.SUCCEEDED)

    assert webhook_deliveries_resume() == 2
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(receiver.requests()) < 2:
        time.sleep(0.05)

    assert sorted(r["body"] for r in receiver.requests()) == ['{"n":0}', '{"n":1}']
