"""The console's notice of disabled webhook endpoints, on every page an organisation admin sees."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chatbot.console.access import sites_for
from chatbot.webhooks.models import WebhookEndpoint


def webhook_notices(request: HttpRequest) -> dict[str, Any]:
    operator = getattr(request, "operator", None)
    if operator is None or not operator.is_admin:
        return {}
    disabled = WebhookEndpoint.objects.filter(site__in=sites_for(operator), is_active=False).count()
    return {"webhooks_disabled": disabled}
