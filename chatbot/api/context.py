"""The console's quota warning: an organisation's admins see it on every page once its bot answers
this month reach 80% of the plan's quota, and again at 100%."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chatbot.usage.selectors import Quota, quota_for

WARN_AT = 0.8


def quota_notice(request: HttpRequest) -> dict[str, Any]:
    operator = getattr(request, "operator", None)
    if operator is None or not operator.is_admin:
        return {}
    organisation = operator.organisation
    plan = organisation.plan
    quota: Quota = quota_for(organisation_id=organisation.pk, limit=plan.monthly_answer_quota if plan else None)
    if quota.limit is None or quota.fraction < WARN_AT:
        return {}
    return {
        "quota_notice": {
            "used": quota.used,
            "limit": quota.limit,
            "percent": int(quota.fraction * 100),
            "exceeded": quota.exceeded,
            "plan": plan.name if plan else "",
        }
    }
