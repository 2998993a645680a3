"""The console's exports page: transcript downloads for every operator (their sites only); API
tokens and visitor data requests for admins."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chatbot.console.access import console_view, site_ids_for, sites_for
from chatbot.console.models import Operator
from chatbot.conversations.models import ConversationStatus
from chatbot.exports.filters import (
    SENTIMENT_LABELS,
    ExportFilterError,
    ExportForbidden,
    ExportFormat,
    export_filter_from_params,
)
from chatbot.exports.forms import ERASE_CONFIRMATION, ApiTokenForm, VisitorRequestForm
from chatbot.exports.models import ApiToken
from chatbot.exports.responses import ExportResponse
from chatbot.exports.selectors import (
    export_chunks,
    export_filename,
    export_lines,
    visitor_data_export,
    visitor_get,
)
from chatbot.exports.services import api_token_create, api_token_revoke, visitor_data_erase
from chatbot.ratelimit import rate_limit_take

CONTENT_TYPES = {
    ExportFormat.MESSAGES_CSV: "text/csv; charset=utf-8",
    ExportFormat.CONVERSATIONS_CSV: "text/csv; charset=utf-8",
    ExportFormat.MESSAGES_JSONL: "application/x-ndjson; charset=utf-8",
}


def export_response(
    *, request: HttpRequest, export_format: ExportFormat, operator: Operator, ignore: frozenset[str] = frozenset()
) -> HttpResponseBase:
    """The streamed export for `request`'s query string (the console and the API share it). Raises
    ExportFilterError and ExportForbidden for filters that can't be used."""
    export_filter = export_filter_from_params(dict(request.GET.lists()), operator=operator, ignore=ignore)
    site_keys = [v for v in request.GET.getlist("site") if v.strip()]
    return ExportResponse(
        export_chunks(export_lines(export_format=export_format, export_filter=export_filter)),
        content_type=CONTENT_TYPES[export_format],
        filename=export_filename(export_format=export_format, site_keys=site_keys),
    )


def _page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    operator: Operator = request.operator  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "nav": "exports",
        "sites": list(sites_for(operator).order_by("name")),
        "statuses": ConversationStatus.choices,
        "sentiments": SENTIMENT_LABELS,
        "formats": [(f.value, label) for f, label in FORMAT_LABELS.items()],
        "selected": {key: request.GET.get(key, "") for key in ("site", "from", "to", "status", "intent", "sentiment")},
        "rate_per_minute": settings.CHATBOT_EXPORT_RATE_PER_MINUTE,
        "is_admin": operator.is_admin,
        "erase_confirmation": ERASE_CONFIRMATION,
    }
    if operator.is_admin:
        context["tokens"] = _tokens_for(operator).select_related("user")[:200]
        context.setdefault(
            "token_form", ApiTokenForm(initial={"user": operator.user_id}, organisation=operator.organisation)
        )
        context.setdefault("visitor_form", VisitorRequestForm())
    context.update(extra)
    return render(request, "console/exports/index.html", context, status=status)


def _tokens_for(operator: Operator) -> QuerySet[ApiToken]:
    """The API tokens of the console accounts of `operator`'s organisation."""
    return ApiToken.objects.filter(user__operator__organisation=operator.organisation)


FORMAT_LABELS = {
    ExportFormat.MESSAGES_CSV: "Messages (CSV, a row per message)",
    ExportFormat.CONVERSATIONS_CSV: "Conversations (CSV, a row per conversation)",
    ExportFormat.MESSAGES_JSONL: "Messages (JSON Lines, with the bot's decisions)",
}


@require_GET
@console_view()
def index(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_GET
@console_view()
def download(request: HttpRequest) -> HttpResponseBase:
    operator: Operator = request.operator  # type: ignore[attr-defined]
    try:
        export_format = ExportFormat(request.GET.get("format", ""))
    except ValueError:
        return _page(request, status=400, error="Choose what to export.")
    retry_after = rate_limit_take(key=f"exports:user:{operator.user_id}", limit=settings.CHATBOT_EXPORT_RATE_PER_MINUTE)
    if retry_after is not None:
        response = _page(request, status=429, error=f"Too many exports; try again in {retry_after} s.")
        response["Retry-After"] = str(retry_after)
        return response
    try:
        return export_response(
            request=request, export_format=export_format, operator=operator, ignore=frozenset({"format"})
        )
    except ExportFilterError as exc:
        return _page(request, status=400, error=exc.message)
    except ExportForbidden as exc:
        return _page(request, status=403, error=exc.message)


@require_POST
@console_view(admin_only=True)
def token_create(request: HttpRequest) -> HttpResponse:
    operator: Operator = request.operator  # type: ignore[attr-defined]
    form = ApiTokenForm(request.POST, organisation=operator.organisation)
    if not form.is_valid():
        return _page(request, status=400, token_form=form)
    token, key = api_token_create(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
    # Rendered, not redirected: the token is shown in this one response and stored nowhere.
    response = _page(request, new_token=key, new_token_name=token.name)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@console_view(admin_only=True)
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(token=get_object_or_404(_tokens_for(request.operator), pk=token_id))  # type: ignore[attr-defined]
    messages.success(request, f"Token {token.name} ({token.prefix}…) revoked.")
    return redirect("exports:index")


@require_POST
@console_view(admin_only=True)
def visitor_request(request: HttpRequest) -> HttpResponse:
    form = VisitorRequestForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, visitor_form=form)
    visitor = visitor_get(
        public_id=str(form.cleaned_data["visitor"]),
        site_ids=site_ids_for(request.operator),  # type: ignore[attr-defined]
    )
    if visitor is None:
        form.add_error("visitor", "No visitor with this id (or their data was already erased).")
        return _page(request, status=404, visitor_form=form)
    if form.cleaned_data["action"] == "export":
        data = visitor_data_export(visitor=visitor)
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
        )
        filename = f"visitor-{visitor.public_id}-{timezone.localdate().isoformat()}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response
    erasure = visitor_data_erase(visitor=visitor, by=request.user)
    messages.success(
        request,
        f"Erased the visitor's data: {erasure.conversations} conversations, {erasure.messages} messages, "
        f"{erasure.contact_requests} contact requests, {erasure.notes} notes.",
    )
    return redirect("exports:index")
