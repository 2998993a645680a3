"""The console's API pages: keys (admins only, shown once, revocable), usage with its chart, the
monthly invoice CSV, and the quota warnings organisation admins see."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from chatbot.api_keys.models import ApiKey
from chatbot.console.models import Operator, Role
from chatbot.sites.models import Organisation, Plan, Site
from chatbot.usage.models import Metric
from chatbot.usage.services import usage_add
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def sign_in(client: Client, django_user_model: Any, shop_site: Site) -> Callable[..., Client]:
    def make(role: str, sites: list[Site] = (), organisation: Organisation | None = None) -> Client:  # type: ignore[assignment]
        user = django_user_model.objects.create_user(username=f"{role}-{django_user_model.objects.count()}")
        operator = Operator.objects.create(
            user=user, role=role, organisation=organisation or Site.objects.get(pk=shop_site.pk).organisation
        )
        operator.sites.set(sites)
        client.force_login(user)
        return client

    return make


def test_an_admin_creates_a_key_sees_it_once_and_it_works(sign_in: Callable[..., Client], shop_site: Site) -> None:
    client = sign_in(Role.ADMIN)
    page = client.post("/console/api/keys/create", {"site": shop_site.pk, "name": "crm", "scopes": ["chat", "usage"]})
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    key = page.context["new_key"]
    assert key.startswith("cbk_") and key in page.content.decode()
    stored = ApiKey.objects.get(name="crm")
    assert stored.scopes == ["chat", "usage"] and key not in (stored.key_hash, stored.prefix)
    assert Api(key).get("/usage").status_code == 200
    # The list shows the prefix only, never the key again.
    listing = client.get("/console/api/keys/").content.decode()
    assert stored.prefix in listing and key not in listing

    client.post(f"/console/api/keys/{stored.pk}/revoke")
    assert Api(key).get("/usage").status_code == 401


def test_operators_may_not_manage_keys(sign_in: Callable[..., Client], shop_site: Site) -> None:
    client = sign_in(Role.OPERATOR, [shop_site])
    assert client.get("/console/api/keys/").status_code == 403
    assert client.post("/console/api/keys/create", {"site": shop_site.pk, "scopes": ["chat"]}).status_code == 403


def test_an_admin_cannot_make_or_revoke_keys_of_another_organisations_site(
    sign_in: Callable[..., Client], shop_site: Site, other_site: Site, key_for: Callable[..., str]
) -> None:
    elsewhere = Organisation.objects.create(name="Elsewhere", slug="elsewhere")
    Site.objects.filter(pk=other_site.pk).update(organisation=elsewhere)
    key_for(other_site)
    client = sign_in(Role.ADMIN)
    assert client.post("/console/api/keys/create", {"site": other_site.pk, "scopes": ["chat"]}).status_code == 400
    foreign = ApiKey.objects.get(site=other_site)
    assert client.post(f"/console/api/keys/{foreign.pk}/revoke").status_code == 404
    assert foreign.prefix not in client.get("/console/api/keys/").content.decode()


def test_the_usage_page_draws_the_days_in_an_inline_chart(sign_in: Callable[..., Client], shop_site: Site) -> None:
    usage_add(site_id=shop_site.pk, counts={Metric.API_CALLS: 7, Metric.BOT_ANSWERS: 3})
    page = sign_in(Role.OPERATOR, [shop_site]).get("/console/api/usage/", {"site": "shop"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="usage-chart"' in html and "<rect" in html and "<script" not in html.split("<main")[1]
    assert page.context["totals"]["api_calls"] == 7 and page.context["totals"]["bot_answers"] == 3


def test_the_invoice_csv_has_a_row_per_site_and_day_of_the_organisation(
    sign_in: Callable[..., Client], shop_site: Site, other_site: Site
) -> None:
    today = timezone.localdate()
    usage_add(site_id=shop_site.pk, counts={Metric.API_CALLS: 5, Metric.BOT_ANSWERS: 2, "bot_answers:answer": 2})
    elsewhere = Organisation.objects.create(name="Elsewhere", slug="elsewhere")
    Site.objects.filter(pk=other_site.pk).update(organisation=elsewhere)
    usage_add(site_id=other_site.pk, counts={Metric.API_CALLS: 99})
    response = sign_in(Role.ADMIN).get("/console/api/usage/invoice.csv", {"month": today.strftime("%Y-%m")})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    assert rows[0]["site"] == "shop" and rows[0]["date"] == today.isoformat()
    assert (rows[0]["api_calls"], rows[0]["bot_answers"], rows[0]["bot_answers_answer"]) == ("5", "2", "2")


@pytest.mark.parametrize(("used", "expected"), [(79, None), (80, "80%"), (100, "used all 100")])
def test_organisation_admins_see_the_quota_warning_at_80_and_100_percent(
    sign_in: Callable[..., Client], shop_site: Site, used: int, expected: str | None
) -> None:
    plan = Plan.objects.create(name="small", monthly_answer_quota=100)
    Organisation.objects.filter(pk=Site.objects.get(pk=shop_site.pk).organisation_id).update(plan=plan)
    usage_add(site_id=shop_site.pk, counts={Metric.BOT_ANSWERS: used})
    page = sign_in(Role.ADMIN).get("/console/api/usage/").content.decode()
    if expected is None:
        assert 'data-testid="quota-notice"' not in page
    else:
        assert 'data-testid="quota-notice"' in page and expected in page


def test_only_the_installs_staff_download_another_organisations_month(
    sign_in: Callable[..., Client], django_user_model: Any, other_site: Site
) -> None:
    elsewhere = Organisation.objects.create(name="Elsewhere", slug="elsewhere")
    Site.objects.filter(pk=other_site.pk).update(organisation=elsewhere)
    usage_add(site_id=other_site.pk, counts={Metric.API_CALLS: 9})
    month = timezone.localdate().strftime("%Y-%m")
    customer_admin = sign_in(Role.ADMIN, organisation=Organisation.objects.create(name="Acme", slug="acme"))
    own = customer_admin.get("/console/api/usage/invoice.csv", {"month": month, "organisation": "elsewhere"})
    assert "other" not in own.content.decode()  # the parameter is ignored: their own (empty) month

    staff = django_user_model.objects.create_superuser(username="root", password="unused-password-123")
    customer_admin.force_login(staff)
    rows = list(
        csv.DictReader(
            io.StringIO(
                customer_admin.get(
                    "/console/api/usage/invoice.csv", {"month": month, "organisation": "elsewhere"}
                ).content.decode()
            )
        )
    )
    assert [(r["organisation"], r["site"], r["api_calls"]) for r in rows] == [("elsewhere", "other", "9")]
