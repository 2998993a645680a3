"""The export API for analytics pipelines: `GET /api/v1/exports/<kind>` with a bearer token.

Errors are JSON, `{"error": {"code", "message", "parameter"?}}`, on every path under /api/ and for
every method: 401 without a valid token, 403 for a site the token's user may not see (or that does
not exist: the answer is the same), 400 for a filter that can't be used, 404 for an unknown path, 405
for a method other than GET, 429 (with Retry-After) past the token's rate limit. See docs/api.md."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from chatbot.console.access import operator_for
from chatbot.exports.filters import ExportFilterError, ExportForbidden, ExportFormat
from chatbot.exports.services import api_token_authenticate
from chatbot.exports.views import export_response
from chatbot.ratelimit import rate_limit_take

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)


def _unauthorized(code: str, message: str) -> JsonResponse:
    response = _error(401, code, message)
    response["WWW-Authenticate"] = f'Bearer realm="api", error="{code}"' if code == "invalid_token" else "Bearer"
    return response


def api_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """An API endpoint: authenticated by its bearer token only, never by the session cookie, so no
    CSRF check (a cross-site form cannot send the header); an unexpected failure is answered in JSON
    too (and logged, as Django would)."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except Exception:
            logger.exception("API request %s %s failed", request.method, request.path)
            return _error(500, "internal_error", "The server could not answer; try again later.")

    return wrapper


@api_view
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return _error(404, "not_found", "No such API endpoint; see docs/api.md.")


@api_view
def export(request: HttpRequest, export_format: ExportFormat) -> HttpResponseBase:
    if request.method != "GET":
        response = _error(405, "method_not_allowed", "Use GET.")
        response["Allow"] = "GET"
        return response
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _unauthorized("unauthorized", "Send an API token: Authorization: Bearer <token>.")
    token = api_token_authenticate(key=key.strip())
    if token is None:
        return _unauthorized("invalid_token", "The token is unknown or revoked.")
    operator = operator_for(token.user)
    if operator is None:
        return _error(403, "forbidden", "The token's user has no access to the console's data.")

    retry_after = rate_limit_take(key=f"exports:token:{token.pk}", limit=settings.CHATBOT_EXPORT_RATE_PER_MINUTE)
    if retry_after is not None:
        response = _error(
            429,
            "rate_limited",
            f"More than {settings.CHATBOT_EXPORT_RATE_PER_MINUTE} requests a minute; retry in {retry_after} s.",
        )
        response["Retry-After"] = str(retry_after)
        return response

    try:
        return export_response(request=request, export_format=export_format, operator=operator)
    except ExportFilterError as exc:
        return _error(400, "bad_parameter", exc.message, parameter=exc.field)
    except ExportForbidden as exc:
        return _error(403, "forbidden", exc.message, parameter="site")
