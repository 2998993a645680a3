"""The API's URLs, with every 405 answered in the API's JSON error shape too."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

from chatbot.api.api import api
from chatbot.api.errors import error_response


def _json_405(response: HttpResponseBase) -> HttpResponseBase:
    if isinstance(response, HttpResponseNotAllowed):
        allowed = response["Allow"]
        response = error_response(405, "method_not_allowed", f"Use {allowed}.")
        response["Allow"] = allowed
    return response


def _wrap(view: Callable[..., Any]) -> Callable[..., Any]:
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return _json_405(await view(request, *args, **kwargs))

        return async_view

    @wraps(view)
    def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return _json_405(view(request, *args, **kwargs))

    return sync_view


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponseBase:
    """Every other path under /api/, for every method: the API's JSON 404, not Django's page."""
    return error_response(404, "not_found", "No such API endpoint; see /api/v1/docs.")


def _patterns() -> list[URLPattern]:
    # ninja's URLs are flat URLPatterns, one per path. Its root (/api/v1/, a bare page ninja
    # reverses for the schema's server URL) answers the API's JSON 404 like any unknown path.
    return [
        path(str(p.pattern), not_found if p.name == "api-root" else _wrap(p.callback), p.default_args, p.name)
        for p in api.urls[0]
        if isinstance(p, URLPattern)
    ]


urlpatterns = [*_patterns(), re_path(r"^(?P<path>.*)$", not_found, name="not_found")]
app_name = "api_v1"
