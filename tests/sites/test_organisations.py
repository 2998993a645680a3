"""Organisations and plans: what a single-tenant install and the demo get without asking."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command

from chatbot.console.models import Operator, Role
from chatbot.sites.models import DEFAULT_ORGANISATION_SLUG, Organisation, Plan, Site, default_organisation_id

pytestmark = pytest.mark.django_db


def test_a_site_made_without_an_organisation_joins_the_one_default_organisation() -> None:
    first = Site.objects.create(key="one", name="One")
    second = Site.objects.create(key="two", name="Two")
    assert first.organisation_id == second.organisation_id == default_organisation_id()
    assert Organisation.objects.get().slug == DEFAULT_ORGANISATION_SLUG
    assert first.organisation.plan is None  # no plan: no quota, no rate limit


def test_the_demo_setup_creates_the_demo_organisation_with_its_site_and_logins(settings: Any, tmp_path: Any) -> None:
    import chatbot.web.management.commands.demo_setup  # noqa: F401  (its FAQ path is read from BASE_DIR on import)

    settings.BASE_DIR = tmp_path  # the demo passwords are written under var/
    call_command("demo_setup", "--no-embed")

    demo = Organisation.objects.get(slug="demo")
    assert demo.plan == Plan.objects.get(name="enterprise") and demo.plan.monthly_answer_quota is None
    assert {p.name for p in Plan.objects.all()} == {"free", "pro", "enterprise"}
    assert Site.objects.get(key="demo").organisation == demo
    assert {(o.user.username, o.role) for o in Operator.objects.filter(organisation=demo)} == {
        ("admin", Role.ADMIN),
        ("operator", Role.OPERATOR),
    }
    call_command("demo_setup", "--no-embed")  # again: nothing doubles
    assert Organisation.objects.filter(slug="demo").count() == 1 and Plan.objects.count() == 3


def test_plans_and_organisations_are_managed_in_the_admin() -> None:
    assert admin.site.is_registered(Plan) and admin.site.is_registered(Organisation)


def test_the_admin_refuses_an_operator_on_another_organisations_site(shop_site: Any) -> None:
    from django.contrib.auth import get_user_model

    from chatbot.console.admin import OperatorForm

    other = Organisation.objects.create(slug="other", name="Other")
    foreign = Site.objects.create(key="foreign", name="Foreign", organisation=other)
    user = get_user_model().objects.create_user("olly")
    data = {"user": user.pk, "organisation": shop_site.organisation_id, "role": Role.OPERATOR, "language": ""}

    assert OperatorForm({**data, "sites": [shop_site.pk]}).is_valid()
    form = OperatorForm({**data, "sites": [shop_site.pk, foreign.pk]})
    assert not form.is_valid() and "foreign" in str(form.errors["sites"])


@pytest.mark.parametrize(
    "path",
    [
        "/admin/sites/plan/add/",
        "/admin/sites/organisation/add/",
        "/admin/sites/organisation/",
        "/admin/console/operator/add/",
        "/admin/webhooks/webhookendpoint/",
        "/admin/webhooks/webhookdelivery/",
    ],
)
def test_the_admin_pages_open(settings: Any, admin_client: Any, path: str) -> None:
    settings.SECURE_SSL_REDIRECT = False
    assert admin_client.get(path).status_code == 200
