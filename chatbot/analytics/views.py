"""The analytics dashboard: a page with the filters, and the JSON endpoints its script draws from.
The unanswered-question clusters have their own endpoint because clustering embeds text and is
slow; the rest of the dashboard does not wait for it. Hot topics are read from the stored report
(computed in the background) and refreshed on request."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from chatbot.analytics.forms import DashboardFilterForm, default_range
from chatbot.analytics.selectors import MAX_RANGE_DAYS, dashboard_metrics, hot_topics_for, unanswered_clusters_for
from chatbot.analytics.services import hot_topics_refresh_if_stale, hot_topics_request
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
        "hot_topics_days": settings.CHATBOT_HOT_TOPICS_DAYS,
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


@never_cache
@require_GET
@console_view()
def hot_topics(request: HttpRequest) -> JsonResponse:
    """The latest hot topics of the chosen site (or all the operator's sites). A report older
    than CHATBOT_HOT_TOPICS_REFRESH_S, or none at all, is recomputed in the background: the
    answer then says `refreshing` and the page asks again."""
    form = DashboardFilterForm(request.GET, operator=request.operator)  # type: ignore[attr-defined]
    if not form.is_valid():
        return _bad_filters(form)
    site_ids = form.filters().site_ids
    hot_topics_refresh_if_stale(site_ids=site_ids)
    return JsonResponse(asdict(hot_topics_for(site_ids=site_ids)))


@require_POST
@console_view()
def hot_topics_refresh(request: HttpRequest) -> HttpResponse:
    """Recompute the hot topics of the chosen site (or all the operator's sites) now, in the
    background. Answers with the hot topics as they are (JSON), or back to the dashboard for a
    browser without the page's script."""
    form = DashboardFilterForm(request.POST, operator=request.operator)  # type: ignore[attr-defined]
    if not form.is_valid():
        return _bad_filters(form)
    site_ids = form.filters().site_ids
    if not site_ids:
        return JsonResponse({"error": "You have no site to compute hot topics for."}, status=400)
    hot_topics_request(site_ids=site_ids)
    if "application/json" not in request.headers.get("Accept", ""):
        site = form.cleaned_data["site"]
        query = f"?{urlencode({'site': site})}" if site is not None else ""
        return HttpResponseRedirect(reverse("analytics:dashboard") + query)
    return JsonResponse(asdict(hot_topics_for(site_ids=site_ids)), status=202)
