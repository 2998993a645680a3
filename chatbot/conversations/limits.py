"""Abuse limits of the widget's websocket: connections, messages and new conversations, each
counted per minute per client address, per visitor and per site (settings.CHATBOT_RATE_LIMITS).

The narrowest count comes first and counting stops at the first limit exceeded, so one noisy
address or visitor spends its own budget and not its site's: the per-site limit is what many
addresses together may not pass (it protects the workers the sites share).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from django.conf import settings

from chatbot.ratelimit import rate_limit_take

Event = Literal["connections", "messages", "conversations"]

WINDOW_S = 60

_MESSAGES = {
    "connections": "Too many connections from here. Please wait {s} seconds.",
    "messages": "You're sending messages too quickly. Please wait {s} seconds.",
    "conversations": "Too many new conversations. Please wait {s} seconds.",
}


def client_address(scope: dict[str, Any]) -> str | None:
    """The address a connection counts against: its IPv4 address, or its IPv6 /64 (one subscriber
    holds a whole /64, so counting single IPv6 addresses would limit nobody). None when the server
    did not say (a test communicator, a Unix socket)."""
    client = scope.get("client")
    if not client:
        return None
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return str(client[0])[:100] or None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:203.0.113.5 is an IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def limit_take(event: Event, *, ip: str | None = None, visitor: object = None, site: str | None = None) -> int | None:
    """Count one `event` for each of `ip`, `visitor` and `site` that is given (in that order) and
    return None while all are within their limits, else the seconds to wait (counting stops at the
    first limit exceeded). Synchronous: it talks to the cache."""
    limits = settings.CHATBOT_RATE_LIMITS[event]
    for scope, who in (("ip", ip), ("visitor", visitor), ("site", site)):
        if who is None:
            continue
        retry_after = rate_limit_take(key=f"chat:{event}:{scope}:{who}", limit=limits[scope], window_s=WINDOW_S)
        if retry_after is not None:
            return retry_after
    return None


def limits_apply(event: Event, *, ip: str | None = None, visitor: object = None, site: str | None = None) -> bool:
    """Whether `limit_take` would count anything (a limit of 0 is off): when not, callers skip it."""
    limits = settings.CHATBOT_RATE_LIMITS[event]
    return any(
        limits[scope] > 0 for scope, who in (("ip", ip), ("visitor", visitor), ("site", site)) if who is not None
    )


def limited_message(event: Event, retry_after: int) -> str:
    """What the widget shows its customer."""
    return _MESSAGES[event].format(s=retry_after)
