"""The console's Organisation page: its admins see the plan, the sites and the operators of their
own organisation, and set the operators' roles and sites, within it only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chatbot.console.models import Operator, Role
from chatbot.sites.models import Organisation, Plan, Site
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(shop_site: Any) -> dict[str, Any]:
    plan = Plan.objects.create(name="pro", monthly_answer_quota=5000, rate_limit_per_minute=60)
    acme = Organisation.objects.create(name="Acme", slug="acme", plan=plan)
    rival = Organisation.objects.create(name="Rival", slug="rival")
    shop_site.organisation = acme
    shop_site.save()
    outlet = Site.objects.create(key="outlet", name="Outlet", organisation=acme)
    rival_site = Site.objects.create(key="rivalsite", name="RivalShop", organisation=rival)
    admin = make_operator("ada", sites=[], role=Role.ADMIN)
    olly = make_operator("olly", sites=[shop_site])
    stranger = make_operator("stan", sites=[rival_site])
    Operator.objects.filter(pk__in=[admin.pk, olly.pk]).update(organisation=acme)
    Operator.objects.filter(pk=stranger.pk).update(organisation=rival)
    client = Client()
    client.force_login(admin.user)
    return {
        "client": client,
        "admin": admin,
        "olly": olly,
        "stranger": stranger,
        "outlet": outlet,
        "rival_site": rival_site,
    }


def test_an_admin_sees_the_plan_the_sites_and_the_operators_of_their_organisation(org: dict[str, Any]) -> None:
    page = org["client"].get("/console/organisation/").content.decode()
    assert "5000 bot answers a month" in page and "60 API calls a minute per key" in page
    assert "Outlet" in page and "Olly" in page
    assert "RivalShop" not in page and "Stan" not in page


def test_an_admin_gives_an_operator_sites_of_the_organisation_only(org: dict[str, Any], shop_site: Any) -> None:
    client, olly = org["client"], org["olly"]
    client.post(f"/console/organisation/operators/{olly.pk}/", {"role": "operator", "sites": [org["outlet"].pk]})
    assert list(olly.sites.all()) == [org["outlet"]]

    client.post(f"/console/organisation/operators/{olly.pk}/", {"role": "operator", "sites": [org["rival_site"].pk]})
    assert list(olly.sites.all()) == [org["outlet"]]  # refused: another organisation's site

    response = client.post(f"/console/organisation/operators/{org['stranger'].pk}/", {"role": "admin"})
    assert response.status_code == 404
    assert Operator.objects.get(pk=org["stranger"].pk).role == Role.OPERATOR


def test_an_admin_cannot_change_their_own_role_and_operators_cannot_open_the_page(org: dict[str, Any]) -> None:
    admin = org["admin"]
    org["client"].post(f"/console/organisation/operators/{admin.pk}/", {"role": "operator"})
    assert Operator.objects.get(pk=admin.pk).role == Role.ADMIN

    operator = Client()
    operator.force_login(org["olly"].user)
    assert operator.get("/console/organisation/").status_code == 403
    assert operator.post(f"/console/organisation/operators/{org['olly'].pk}/", {"role": "admin"}).status_code == 403
