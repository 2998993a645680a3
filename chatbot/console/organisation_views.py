"""The console's Organisation page, for its admins: the plan and this month's answers against
its quota, the sites, and the operators with their roles and sites (which admins change here)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from chatbot.console.access import console_view
from chatbot.console.models import Operator, Role
from chatbot.console.services import ConsoleActionError, operator_update
from chatbot.sites.models import Site
from chatbot.usage.selectors import quota_for


@require_GET
@console_view(admin_only=True)
def organisation(request: HttpRequest) -> HttpResponse:
    admin: Operator = request.operator  # type: ignore[attr-defined]
    org = admin.organisation
    plan = org.plan
    context = {
        "nav": "organisation",
        "organisation": org,
        "plan": plan,
        "quota": quota_for(organisation_id=org.pk, limit=plan.monthly_answer_quota if plan else None),
        "sites": list(Site.objects.filter(organisation=org).order_by("name")),
        "operators": list(
            Operator.objects.filter(organisation=org).select_related("user").prefetch_related("sites").order_by("pk")
        ),
        "roles": Role.choices,
    }
    return render(request, "console/organisation.html", context)


@require_POST
@console_view(admin_only=True)
def operator_change(request: HttpRequest, operator_id: int) -> HttpResponseBase:
    admin: Operator = request.operator  # type: ignore[attr-defined]
    operator = Operator.objects.filter(pk=operator_id, organisation=admin.organisation).first()
    if operator is None:
        raise Http404("No such operator.")
    site_ids = [int(v) for v in request.POST.getlist("sites") if v.isdigit()]
    try:
        operator_update(operator=operator, by=admin, role=request.POST.get("role", ""), site_ids=site_ids)
    except ConsoleActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{operator.name}: saved.")
    return redirect("console:organisation")
