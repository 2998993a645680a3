"""The analytics dashboard: a page with the filters, and two JSON endpoints its script draws from.
The unanswered-question clusters have their own endpoint because clustering embeds text and is
slow; the rest of the dashboard does not wait for it."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from chatbot.analytics.forms import DashboardFilterForm, default_range
from chatbot.analytics.selectors import MAX_RANGE_DAYS, dashboard_metrics, unanswered_clusters_for
from chatbot.console.access import console_view, sites_for

UNANSWERED_LIMIT = 10


def _bad_filters(form: DashboardFilterForm) -> JsonResponse:
    return JsonResponse({"error": form.error_text(), "fields": form.errors.get_json_data()}, status=400)


@require_GET
@console_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    operator = request.operator  # type: ignore[attr-defined]
    default_start, default_end = default_range(timezone.get_current_timezone())
    form = DashboardFilterForm(request.GET, operator=operator)
    if form.is_valid():
        filters = form.filters()
        site, start, end, error = filters.site, filters.start, filters.end, ""
    else:
        # The page still renders, with the default filters, and says what was wrong.
        site, start, end, error = None, default_start, default_end, form.error_text()
    context = {
        "nav": "analytics",
        "sites": list(sites_for(operator).order_by("name")),
        "site": site,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "default_start": default_start.isoformat(),
        "default_end": default_end.isoformat(),
        "filter_error": error,
        "max_range_days": MAX_RANGE_DAYS,
    }
    return render(request, "console/analytics/dashboard.html", context)


@never_cache
@require_GET
@console_view()
def data(request: HttpRequest) -> JsonResponse:
    form = DashboardFilterForm(request.GET, operator=request.operator)  # type: ignore[attr-defined]
    if not form.is_valid():
        return _bad_filters(form)
    filters = form.filters()
    metrics = dashboard_metrics(site_ids=filters.site_ids, start=filters.start, end=filters.end, tz=filters.tz)
    return JsonResponse(asdict(metrics))


@never_cache
@require_GET
@console_view()
def unanswered(request: HttpRequest) -> JsonResponse:
    form = DashboardFilterForm(request.GET, operator=request.operator)  # type: ignore[attr-defined]
    if not form.is_valid():
        return _bad_filters(form)
    filters = form.filters()
    clusters = unanswered_clusters_for(
        site_ids=filters.site_ids, start=filters.start, end=filters.end, tz=filters.tz, limit=UNANSWERED_LIMIT
    )
    return JsonResponse(
        {"start": filters.start.isoformat(), "end": filters.end.isoformat(), "clusters": [asdict(c) for c in clusters]}
    )
