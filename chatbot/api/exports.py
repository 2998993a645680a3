"""The transcript export for analytics pipelines (docs/api.md), on the same framework as the rest
of the API: `GET /api/v1/exports/<kind>` with a console user's API token (chatbot.exports), which
exports what that user may see in the console. Its contract predates the per-site keys and is
kept: `400 bad_parameter` with the `parameter`, `invalid_token`, and the per-token rate
`CHATBOT_EXPORT_RATE_PER_MINUTE`."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import Router
from ninja.security import HttpBearer

from chatbot.api.errors import ApiError
from chatbot.console.access import operator_for
from chatbot.console.models import Operator
from chatbot.exports.filters import ExportFilterError, ExportForbidden, ExportFormat
from chatbot.exports.services import api_token_authenticate
from chatbot.exports.views import export_response
from chatbot.ratelimit import rate_limit_take


class ExportTokenAuth(HttpBearer):
    """`Authorization: Bearer cbd_…`: the operator the token acts as, its request counted against
    the token's rate (bad parameters included; requests without a valid token never are)."""

    def authenticate(self, request: HttpRequest, token: str) -> Operator | None:
        if not token.strip():
            return None  # "Bearer " with nothing after it: as if no header was sent
        api_token = api_token_authenticate(key=token.strip())
        if api_token is None:
            raise ApiError(
                401,
                "invalid_token",
                "The token is unknown or revoked.",
                headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
            )
        operator = operator_for(api_token.user)
        if operator is None:
            raise ApiError(403, "forbidden", "The token's user has no access to the console's data.")
        limit = settings.CHATBOT_EXPORT_RATE_PER_MINUTE
        retry_after = rate_limit_take(key=f"exports:token:{api_token.pk}", limit=limit)
        if retry_after is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"More than {limit} requests a minute; retry in {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )
        return operator


router = Router(tags=["exports"], auth=ExportTokenAuth())


def _export(request: HttpRequest, export_format: ExportFormat) -> HttpResponseBase:
    operator = request.auth  # type: ignore[attr-defined]
    try:
        return export_response(request=request, export_format=export_format, operator=operator)
    except ExportFilterError as exc:
        raise ApiError(400, "bad_parameter", exc.message, extra={"parameter": exc.field}) from exc
    except ExportForbidden as exc:
        raise ApiError(403, "forbidden", exc.message, extra={"parameter": "site"}) from exc


_FILTERS = "Filters: site (repeatable), from, to, status, intent, sentiment, redact. Streams as it is read."


@router.get("/exports/messages.jsonl", summary="Messages as JSON Lines", description=_FILTERS, response={200: None})
def messages_jsonl(request: HttpRequest) -> HttpResponseBase:
    return _export(request, ExportFormat.MESSAGES_JSONL)


@router.get("/exports/messages.csv", summary="Messages as CSV", description=_FILTERS, response={200: None})
def messages_csv(request: HttpRequest) -> HttpResponseBase:
    return _export(request, ExportFormat.MESSAGES_CSV)


@router.get("/exports/conversations.csv", summary="Conversations as CSV", description=_FILTERS, response={200: None})
def conversations_csv(request: HttpRequest) -> HttpResponseBase:
    return _export(request, ExportFormat.CONVERSATIONS_CSV)
