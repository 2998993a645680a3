"""Who calls: the bearer API key, its scope, its plan's rate, and the call counted for its site."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from datetime import time as dt_time

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from chatbot.api.errors import ApiError
from chatbot.api_keys.models import ApiKey
from chatbot.api_keys.services import api_key_authenticate
from chatbot.ratelimit import rate_limit_take
from chatbot.usage.selectors import month_bounds, site_quota
from chatbot.usage.services import usage_api_call_count


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer cbk_…` with `scope`. No header: 401 (ninja's AuthenticationError);
    an unknown or revoked key: 401 `invalid_key`; a key without the scope: 403 `missing_scope`;
    past the plan's per-key rate: 429 `rate_limited` with Retry-After. Each call that gets through
    is counted for the key's site (chatbot.usage)."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        api_key = api_key_authenticate(key=token.strip())
        if api_key is None:
            raise ApiError(
                401, "invalid_key", "The API key is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"}
            )
        if not api_key.has_scope(self.scope):
            raise ApiError(403, "missing_scope", f"This API key lacks the {self.scope!r} scope.")
        plan = api_key.site.organisation.plan
        limit = plan.rate_limit_per_minute if plan is not None else None
        if plan is not None and limit:
            retry_after = rate_limit_take(key=f"api:key:{api_key.pk}", limit=limit)
            if retry_after is not None:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"More than {limit} calls a minute with this key (plan {plan.name}); retry in {retry_after} s.",
                    headers={"Retry-After": str(retry_after)},
                )
        usage_api_call_count(site_id=api_key.site_id)
        return api_key


def key_of(request: HttpRequest) -> ApiKey:
    api_key = getattr(request, "auth", None)
    assert isinstance(api_key, ApiKey), "an endpoint without ApiKeyAuth"
    return api_key


def quota_check(api_key: ApiKey) -> None:
    """Refuse work that makes bot answers once the organisation's monthly quota is used up: 429
    `quota_exceeded`, Retry-After until the month ends."""
    quota = site_quota(site=api_key.site)
    if quota.exceeded:
        _, last_day = month_bounds(timezone.localdate())
        month_end = datetime.combine(last_day + timedelta(days=1), dt_time.min, tzinfo=timezone.get_current_timezone())
        retry_after = max(1, math.ceil(month_end.timestamp() - time.time()))
        raise ApiError(
            429,
            "quota_exceeded",
            f"The monthly quota of {quota.limit} bot answers is used up ({quota.used}); it renews next month.",
            headers={"Retry-After": str(retry_after)},
        )
