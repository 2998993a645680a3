"""The console's API pages: API keys (admins: create, shown once, revoke) and usage (a chart per
site and day, the monthly CSV an invoice is built from)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chatbot.api.forms import ApiKeyForm, MonthForm
from chatbot.api_keys.models import ApiKey
from chatbot.api_keys.selectors import api_keys_for_sites
from chatbot.api_keys.services import api_key_create, api_key_revoke
from chatbot.console.access import console_view, sites_for
from chatbot.csv_safety import starts_like_formula
from chatbot.sites.models import Organisation, Site
from chatbot.usage.selectors import INVOICE_COLUMNS, UsageDay, site_quota, usage_days, usage_invoice_rows

CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 720, 180


def _keys_page(request: HttpRequest, form: ApiKeyForm, new_key: str = "", status: int = 200) -> HttpResponse:
    operator = request.operator  # type: ignore[attr-defined]
    keys = api_keys_for_sites(site_ids=sites_for(operator).values_list("pk", flat=True))
    context = {"nav": "api", "keys": keys, "form": form, "new_key": new_key}
    return render(request, "console/api/keys.html", context, status=status)


@require_GET
@console_view(admin_only=True)
def keys(request: HttpRequest) -> HttpResponse:
    return _keys_page(request, ApiKeyForm(sites=sites_for(request.operator)))  # type: ignore[attr-defined]


@require_POST
@console_view(admin_only=True)
def key_create(request: HttpRequest) -> HttpResponse:
    operator = request.operator  # type: ignore[attr-defined]
    form = ApiKeyForm(request.POST, sites=sites_for(operator))
    if not form.is_valid():
        return _keys_page(request, form, status=400)
    _, secret = api_key_create(
        site=form.cleaned_data["site"],
        scopes=form.cleaned_data["scopes"],
        name=form.cleaned_data["name"],
        by=request.user,
    )
    # Rendered, not redirected: the key is in this response only and stored nowhere in clear.
    response = _keys_page(request, ApiKeyForm(sites=sites_for(operator)), new_key=secret)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@console_view(admin_only=True)
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id, site__in=sites_for(request.operator))  # type: ignore[attr-defined]
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.prefix}… revoked; it no longer works.")
    return redirect("api_console:keys")


def _chart(days: list[UsageDay]) -> dict[str, Any]:
    """Bars of bot answers per day with API calls as a line, as coordinates for an inline SVG (no
    script, no external library)."""
    peak = max([1, *(d.bot_answers for d in days), *(d.api_calls for d in days)])
    step = CHART_WIDTH / max(1, len(days))
    bars, points = [], []
    for index, day in enumerate(days):
        height = day.bot_answers / peak * (CHART_HEIGHT - 20)
        x = index * step
        bars.append(
            {
                "x": round(x + step * 0.15, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(step * 0.7, 1),
                "height": round(height, 1),
                "day": day,
            }
        )
        points.append(f"{x + step / 2:.1f},{CHART_HEIGHT - day.api_calls / peak * (CHART_HEIGHT - 20):.1f}")
    return {"bars": bars, "line": " ".join(points), "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT}


@require_GET
@console_view()
def usage(request: HttpRequest) -> HttpResponse:
    operator = request.operator  # type: ignore[attr-defined]
    sites = list(sites_for(operator).order_by("name"))
    site: Site | None = next((s for s in sites if s.key == request.GET.get("site")), sites[0] if sites else None)
    end = timezone.localdate()
    days = usage_days(site_id=site.pk, start=end - timedelta(days=CHART_DAYS - 1), end=end) if site else []
    context = {
        "nav": "usage",
        "sites": sites,
        "site": site,
        "days": days,
        "chart": _chart(days),
        "totals": {
            name: sum(getattr(d, name) for d in days)
            for name in ("api_calls", "bot_answers", "handoffs", "generated_tokens")
        },
        "quota": site_quota(site=site) if site else None,
        "month": end.strftime("%Y-%m"),
        "month_form": MonthForm(initial={"month": end.strftime("%Y-%m")}),
        "organisations": Organisation.objects.order_by("name") if operator.is_platform_staff else None,
    }
    return render(request, "console/api/usage.html", context)


@require_GET
@console_view(admin_only=True)
def invoice_csv(request: HttpRequest) -> HttpResponse:
    """The organisation's usage in one month, a row per site and day: what its invoice is built from."""
    form = MonthForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Choose a month as YYYY-MM.")
        return redirect("api_console:usage")
    year, month = (int(part) for part in form.cleaned_data["month"].split("-"))
    operator = request.operator  # type: ignore[attr-defined]
    organisation = operator.organisation
    # The install's own staff invoice every organisation; an organisation's admins see their own.
    if operator.is_platform_staff and request.GET.get("organisation"):
        organisation = get_object_or_404(Organisation, slug=request.GET["organisation"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(INVOICE_COLUMNS)
    for row in usage_invoice_rows(organisation=organisation, month=date(year, month, 1)):
        writer.writerow(["'" + c if isinstance(c, str) and starts_like_formula(c) else c for c in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{organisation.slug}-usage-{year:04d}-{month:02d}.csv"'
    response["Cache-Control"] = "no-store"
    return response
