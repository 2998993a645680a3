"""Console pages. The inbox page is a shell: its script talks to the console websocket."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatbot.console.access import console_view, sites_for
from chatbot.console.models import CannedResponse


@console_view()
def inbox(request: HttpRequest) -> HttpResponse:
    operator = request.operator  # type: ignore[attr-defined]
    sites = list(sites_for(operator).order_by("name"))
    canned = CannedResponse.objects.filter(site__in=sites) | CannedResponse.objects.filter(site__isnull=True)
    context = {
        "nav": "inbox",
        "sites": sites,
        "canned": [{"shortcut": c.shortcut, "title": c.title, "text": c.text, "site": c.site_id} for c in canned],
        "heartbeat_s": max(5, settings.CHATBOT_OPERATOR_ONLINE_S // 3),
    }
    return render(request, "console/inbox.html", context)
