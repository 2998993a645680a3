"""A Content-Security-Policy on every page this server sends: the console, the admin, the demo
page and error pages alike.

Scripts and styles come only from this server's static files (no inline code), websockets go only
to the page's own host (`ws://` and `wss://` of the Host the request was served for, already checked
against ALLOWED_HOSTS), and no page may be framed. The demo page stands in for a customer's shop, whose
own styles are inline (and the widget puts its stylesheet into its Shadow DOM), so it alone allows
inline styles (`csp_inline_styles`); its scripts stay restricted.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])
_INLINE_STYLES = "_csp_inline_styles"


def content_security_policy(*, host: str | None, inline_styles: bool = False) -> str:
    """The policy for a page served for `host` (None: unknown, websockets to 'self' only)."""
    sockets = f" ws://{host} wss://{host}" if host else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{sockets}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def csp_inline_styles(view: _View) -> _View:
    """The page may use inline styles (`<style>`, `style=""`); its scripts stay restricted."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        setattr(response, _INLINE_STYLES, True)
        return response

    return wrapper  # type: ignore[return-value]


def _host(request: HttpRequest) -> str | None:
    try:
        return request.get_host()  # validated against ALLOWED_HOSTS and a strict pattern
    except DisallowedHost:
        return None


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            inline_styles = getattr(response, _INLINE_STYLES, False)
            response["Content-Security-Policy"] = content_security_policy(
                host=_host(request), inline_styles=inline_styles
            )
        response.setdefault("Referrer-Policy", "same-origin")
        return response
