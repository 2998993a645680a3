"""Origin checks for the websocket handshakes: the embedded widget's and the console's.

Browsers send the page's origin with every websocket handshake; a site lists the origins its
widget may be embedded on. Matching is exact on scheme, host and port, so look-alikes such as
`https://shop.example.com.evil.net` or another port never pass. Host names compare without case
and without a trailing dot (`shop.example.com.` is the same DNS name, so only its owner can serve
it). The check keeps other sites' pages in visitors' browsers out; a client that is not a browser
can send any Origin, which is why visitor tokens, not origins, guard conversations.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers send host names in ASCII (IDNA, `xn--...`); anything else is not a browser's origin.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class InvalidOrigin(ValueError):
    pass


def normalise_origin(origin: str) -> tuple[str, str, int]:
    """`(scheme, host, port)` of an origin such as `https://Shop.Example.com:443`."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidOrigin(f"{origin!r} is not an http(s) origin")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InvalidOrigin(f"{origin!r} has more than scheme, host and port")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise InvalidOrigin(f"{origin!r} has an invalid port") from exc
    host = _host(parts.hostname)
    if host is None:
        raise InvalidOrigin(f"{origin!r} has an invalid host name (write it in ASCII: xn--...)")
    return parts.scheme, host, port


def _host(hostname: str) -> str | None:
    """`hostname` lower-cased without its trailing dot, or None unless it is an IP address or a
    DNS name of non-empty labels."""
    host = hostname.lower()
    host = host.removesuffix(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host if all(_LABEL.match(label) for label in host.split(".")) else None
    return host


def validate_allowed_origin(pattern: str) -> None:
    """Raise InvalidOrigin unless `pattern` is an origin or a `scheme://*.domain[:port]` wildcard."""
    _, host, _ = normalise_origin(pattern.replace("://*.", "://wildcard.", 1))
    if "*" in host:
        raise InvalidOrigin(f"{pattern!r}: a wildcard may only be a leading '*.'")


def origin_allowed(origin: str | None, allowed: Iterable[str], *, own_host: str | None = None) -> bool:
    """Whether a handshake from `origin` may talk to a site allowing `allowed`.

    `own_host` is the handshake's Host header when the site allows pages of this server itself.
    """
    if not origin or origin == "null":
        return False
    try:
        scheme, host, port = normalise_origin(origin)
    except InvalidOrigin:
        return False
    if own_host and _host_port(own_host, scheme) == (host, port):
        return True
    for pattern in allowed:
        wildcard = "://*." in pattern
        try:
            p_scheme, p_host, p_port = normalise_origin(pattern.replace("://*.", "://", 1))
        except InvalidOrigin:
            continue
        if (p_scheme, p_port) != (scheme, port):
            continue
        if host == p_host and not wildcard:
            return True
        if wildcard and host.endswith("." + p_host):
            return True
    return False


def same_origin(origin: str | None, host_header: str | None, *, https_only: bool) -> bool:
    """Whether `origin` is a page of this server itself, reached by the browser as `host_header`:
    same host and port, and an https page when the server is only served over https."""
    if not origin or not host_header:
        return False
    try:
        scheme, host, port = normalise_origin(origin)
    except InvalidOrigin:
        return False
    if https_only and scheme != "https":
        return False
    return _host_port(host_header, scheme) == (host, port)


def _host_port(host_header: str, scheme: str) -> tuple[str, int] | None:
    parts = urlsplit(f"{scheme}://{host_header}")
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    host = _host(parts.hostname)
    return (host, port) if host is not None else None
