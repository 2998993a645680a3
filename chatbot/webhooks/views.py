"""Console pages of webhooks, for organisation admins: add and edit endpoints of their sites, see
and rotate the signing secret, read the delivery log and replay a delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatbot.console.access import console_view, site_ids_for, sites_for
from chatbot.console.models import Operator
from chatbot.webhooks.forms import SecretRotateForm, WebhookEndpointForm
from chatbot.webhooks.models import EventType, WebhookEndpoint
from chatbot.webhooks.selectors import (
    webhook_deliveries_list,
    webhook_delivery_get,
    webhook_endpoint_get,
    webhook_endpoints_list,
)
from chatbot.webhooks.services import (
    WebhookEndpointError,
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
    webhook_secrets_in_use,
)


def _operator(request: HttpRequest) -> Operator:
    return request.operator  # type: ignore[attr-defined,no-any-return]


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id, site_ids=site_ids_for(_operator(request)))
    if endpoint is None:
        raise Http404("No such endpoint.")
    return endpoint


def _list_page(request: HttpRequest, *, form: WebhookEndpointForm | None = None, status: int = 200) -> HttpResponse:
    operator = _operator(request)
    return render(
        request,
        "console/webhooks/index.html",
        {
            "nav": "webhooks",
            "endpoints": webhook_endpoints_list(site_ids=site_ids_for(operator)),
            "form": form or WebhookEndpointForm(sites=sites_for(operator)),
            "event_types": EventType.choices,
        },
        status=status,
    )


@require_GET
@console_view(admin_only=True)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


def _form_error(form: WebhookEndpointForm, exc: WebhookEndpointError) -> None:
    form.add_error("events" if "event" in str(exc).lower() else "url", str(exc))


@require_POST
@console_view(admin_only=True)
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST, sites=sites_for(_operator(request)))
    if form.is_valid():
        data = form.cleaned_data
        try:
            endpoint = webhook_endpoint_create(
                site=data["site"], url=data["url"], events=data["events"], description=data["description"]
            )
        except WebhookEndpointError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Endpoint added. Its signing secret is below.")
            return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
    return _list_page(request, form=form, status=400)


@require_http_methods(["GET", "POST"])
@console_view(admin_only=True)
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    sites = sites_for(_operator(request)).filter(pk=endpoint.site_id)
    status = 200
    if request.method == "POST":
        form = WebhookEndpointForm(request.POST, sites=sites)
        if form.is_valid():
            data = form.cleaned_data
            try:
                webhook_endpoint_update(
                    endpoint=endpoint, url=data["url"], events=data["events"], description=data["description"]
                )
            except WebhookEndpointError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Endpoint saved.")
                return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
        status = 400
    else:
        form = WebhookEndpointForm(
            sites=sites,
            initial={
                "site": endpoint.site_id,
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
            },
        )
    context: dict[str, Any] = {
        "nav": "webhooks",
        "endpoint": endpoint,
        "form": form,
        "rotate_form": SecretRotateForm(),
        "signing_secrets": webhook_secrets_in_use(endpoint),
        "deliveries": webhook_deliveries_list(endpoint=endpoint),
    }
    response = render(request, "console/webhooks/endpoint.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page shows the secret
    return response


@require_POST
@console_view(admin_only=True)
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponseBase:
    endpoint = _endpoint(request, endpoint_id)
    form = SecretRotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The overlap is a number of hours from 0 to 168.")
        return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
    hours = form.cleaned_data["overlap_hours"]
    webhook_endpoint_secret_rotate(endpoint=endpoint, overlap=timedelta(hours=hours))
    if hours:
        until = timezone.localtime(endpoint.previous_secret_expires_at).strftime("%Y-%m-%d %H:%M")
        messages.success(request, f"New secret. Deliveries are signed with both secrets until {until}.")
    else:
        messages.success(request, "New secret. The old one no longer signs deliveries.")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)


@require_POST
@console_view(admin_only=True)
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponseBase:
    endpoint = webhook_endpoint_enable(endpoint=_endpoint(request, endpoint_id))
    messages.success(request, "Endpoint enabled: new events are delivered to it again.")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)


@require_POST
@console_view(admin_only=True)
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponseBase:
    endpoint = _endpoint(request, endpoint_id)
    webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:index")


@require_POST
@console_view(admin_only=True)
def delivery_replay(request: HttpRequest, delivery_id: int) -> HttpResponseBase:
    delivery = webhook_delivery_get(delivery_id=delivery_id, site_ids=site_ids_for(_operator(request)))
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        replay = webhook_delivery_replay(delivery=delivery)
    except WebhookEndpointError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Event {delivery.event_id} sent again (delivery {replay.public_id}).")
    return redirect("webhooks:endpoint_detail", endpoint_id=delivery.endpoint_id)
