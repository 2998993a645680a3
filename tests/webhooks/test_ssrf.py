"""No delivery goes to loopback, private, link-local, multicast or reserved addresses (unless a
setting allows it, as the other webhook tests do), whether the URL names the address or a host
name resolves to it; and a delivery connects to the address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from chatbot.webhooks import transport
from chatbot.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from chatbot.webhooks.services import WebhookEndpointError, webhook_endpoint_create, webhook_event_emit
from chatbot.webhooks.services import webhook_deliveries_retry_due as attempt_due

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


def resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> None:
    """Make `names` resolve to the given addresses (the DNS a hostile URL owner controls)."""

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port, 0, 0) if ":" in a else (a, port),
                )
                for a in names[host]
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(transport.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://127.9.9.9:8443/hooks",
        "https://10.1.2.3/hooks",
        "https://172.16.0.1/hooks",
        "https://192.168.1.10/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://224.0.0.1/hooks",
        "https://0.0.0.0/hooks",
        "https://100.64.0.1/hooks",
        "https://localhost/hooks",
        "http://hooks.example.com/plain-http",
    ],
)
def test_an_endpoint_to_a_forbidden_address_is_refused_when_it_is_saved(
    settings: Any, shop_site: Any, url: str
) -> None:
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(WebhookEndpointError):
        webhook_endpoint_create(site=shop_site, url=url, events=["message.created"])
    assert not WebhookEndpoint.objects.exists()


def test_a_public_https_endpoint_is_accepted(settings: Any, shop_site: Any) -> None:
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = webhook_endpoint_create(site=shop_site, url="https://hooks.example.com/in", events=["message.created"])
    assert endpoint.url == "https://hooks.example.com/in"


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.7"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["93.184.216.34", "192.168.0.5"],  # one private address among public ones is enough to refuse
    ],
)
def test_a_host_name_that_resolves_to_a_forbidden_address_gets_no_delivery(
    settings: Any, monkeypatch: pytest.MonkeyPatch, shop_site: Any, start_receiver: Any, addresses: list[str]
) -> None:
    receiver = start_receiver("200")
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = webhook_endpoint_create(
        site=shop_site, url="https://internal.example.com/hooks", events=["message.created"]
    )
    # The host name now leads to this machine, where a receiver listens on the URL's port.
    endpoint.url = f"https://internal.example.com:{receiver.port}/hooks"
    endpoint.save()
    resolving(monkeypatch, {"internal.example.com": addresses})
    webhook_event_emit(site_id=shop_site.pk, event_type="message.created", data={})

    attempt_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.error.startswith("refused:")
    assert "forbidden address" in delivery.error and delivery.response_code is None
    assert receiver.requests() == []


def test_a_delivery_connects_to_the_checked_address_and_names_the_host(
    monkeypatch: pytest.MonkeyPatch, shop_site: Any, start_receiver: Any
) -> None:
    receiver = start_receiver("200")
    resolving(monkeypatch, {"hooks.shop.test": ["127.0.0.1"]})
    resolved: list[str] = []
    original = transport.resolve_checked

    def recording(host: str, port: int) -> list[Any]:
        resolved.append(host)
        return original(host, port)

    monkeypatch.setattr(transport, "resolve_checked", recording)
    webhook_endpoint_create(
        site=shop_site, url=f"http://hooks.shop.test:{receiver.port}/hooks?x=1", events=["message.created"]
    )
    webhook_event_emit(site_id=shop_site.pk, event_type="message.created", data={})

    attempt_due()

    [request] = receiver.requests()
    assert request["path"] == "/hooks?x=1"
    assert request["headers"]["Host"] == f"hooks.shop.test:{receiver.port}"
    assert resolved == ["hooks.shop.test"]  # resolved once, by the check; never again by the client
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("127.0.0.1", True),
        ("10.255.0.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("::ffff:10.0.0.1", True),
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("ff02::1", True),
        ("240.0.0.1", True),
    ],
)
def test_the_address_rule(address: str, forbidden: bool) -> None:
    assert (transport.address_forbidden(ipaddress.ip_address(address)) is not None) is forbidden
