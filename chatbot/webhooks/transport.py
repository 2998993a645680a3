"""Posting a delivery without letting a webhook URL reach into our own network (SSRF).

The URL's host is resolved here and every address it resolves to is checked: loopback, private,
link-local (the cloud metadata service at 169.254.169.254), multicast, reserved, unspecified and
carrier-grade NAT addresses are refused, as are IPv6 addresses that map or embed such IPv4 ones.
The request then connects to an address that was checked (the name is not resolved again, so DNS
rebinding between check and connect changes nothing), sending the original host name in `Host` and
in TLS (SNI and certificate verification). Redirects are not followed: a 3xx is a failure.
settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE turns the address check off (tests, a receiver on the same
machine in development)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DeliveryRefused(Exception):
    """The URL may not be posted to (a forbidden address, or a host that does not resolve)."""


@dataclass(frozen=True)
class PostResult:
    response_code: int | None
    duration_ms: int
    error: str  # "" when the receiver answered (whatever its status)


def address_forbidden(address: IPAddress) -> str | None:
    """Why deliveries may not go to `address`, or None when they may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            reason = address_forbidden(embedded)
            return f"{reason} (inside {address})" if reason else None
    for reason, forbidden in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
        ("not globally routable", not address.is_global),
    ):
        if forbidden:
            return f"{address} is {reason}"
    return None


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as a webhook endpoint, checked without the network (its host's
    addresses are checked at each delivery): None when nothing."""
    parts = urlsplit(url)
    allow_private = settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        return "Use an https:// URL."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "Leave credentials out of the URL; the signature authenticates deliveries."
    if allow_private:
        return None
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if parts.hostname.rstrip(".").lower() == "localhost" or parts.hostname.endswith(".localhost"):
            return "Deliveries may not go to localhost."
        return None
    reason = address_forbidden(literal)
    return f"Deliveries may not go to this address: {reason}." if reason else None


def resolve_checked(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, all of them allowed; DeliveryRefused otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryRefused(f"{host} does not resolve: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DeliveryRefused(f"{host} has no address")
    if not settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE:
        for address in addresses:
            reason = address_forbidden(address)
            if reason is not None:
                raise DeliveryRefused(f"{host} resolves to a forbidden address: {reason}")
    return addresses


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST `body` to `url` at one of its checked addresses. Raises DeliveryRefused for a URL that
    may not be posted to; a network failure or timeout is a result with an `error`."""
    problem = url_problem(url)
    if problem is not None:
        raise DeliveryRefused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve_checked(host, port)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    started = time.monotonic()
    error = ""
    for address in addresses:
        literal = f"[{address}]" if address.version == 6 else str(address)
        pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
        try:
            # Streamed and never read: only the status counts, whatever the receiver sends back.
            with (
                httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
                client.stream(
                    "POST",
                    pinned,
                    content=body,
                    headers={**headers, "Host": host_header},
                    extensions={"sni_hostname": host},
                ) as response,
            ):
                return PostResult(response.status_code, _ms_since(started), "")
        except httpx.ConnectError as exc:
            error = f"could not connect to {address}: {exc}"[:300]
        except httpx.HTTPError as exc:
            return PostResult(None, _ms_since(started), f"{type(exc).__name__}: {exc}"[:300])
    return PostResult(None, _ms_since(started), error)


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
