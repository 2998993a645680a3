"""Scoping below the endpoints: what the background work and the access rules compute per
organisation."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.analytics.services import hot_topics_scopes
from chatbot.console.access import sites_for
from chatbot.console.models import Operator, Role
from chatbot.conversations.models import Conversation, Message, Sender, Visitor
from chatbot.sites.models import Organisation, Site, default_organisation_id
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


def _asked(site: Site) -> None:
    conversation = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
    Message.objects.create(conversation=conversation, seq=1, sender=Sender.CUSTOMER, text="hello")


def test_hot_topics_are_prepared_for_each_site_and_for_each_organisations_sites_together() -> None:
    alpha = Organisation.objects.create(slug="alpha", name="Alpha")
    bravo = Organisation.objects.create(slug="bravo", name="Bravo")
    a1, a2 = (Site.objects.create(key=f"a{i}", name=f"A{i}", organisation=alpha) for i in (1, 2))
    b1 = Site.objects.create(key="b1", name="B1", organisation=bravo)
    for site in (a1, a2, b1):
        _asked(site)

    scopes = hot_topics_scopes()

    assert sorted(scopes) == sorted([[a1.pk], [a2.pk], [b1.pk], [a1.pk, a2.pk]])  # never A's and B's together


def test_an_operator_given_a_site_of_another_organisation_still_does_not_see_it(shop_site: Any) -> None:
    other = Organisation.objects.create(slug="other", name="Other")
    foreign = Site.objects.create(key="foreign", name="Foreign", organisation=other)
    operator = make_operator("olly", sites=[shop_site, foreign])
    admin = make_operator("ada", sites=[], role=Role.ADMIN)

    assert list(sites_for(operator)) == [shop_site]
    assert list(sites_for(admin)) == [shop_site]
    assert shop_site.organisation_id == default_organisation_id() == operator.organisation_id
    Operator.objects.filter(pk=admin.pk).update(organisation=other)
    admin.refresh_from_db()
    assert list(sites_for(admin)) == [foreign]


def test_existing_sites_and_operators_are_in_the_default_organisation(shop_site: Any) -> None:
    operator = make_operator("olly", sites=[shop_site])
    default = Organisation.objects.get(slug="default")
    assert shop_site.organisation == default and operator.organisation == default
    assert not operator.is_platform_staff
    admin = make_operator("ada", sites=[], role=Role.ADMIN)
    assert admin.is_platform_staff  # the default organisation's admins run the install
    Operator.objects.filter(pk=admin.pk).update(organisation=Organisation.objects.create(slug="x", name="X"))
    admin.refresh_from_db()
    assert not admin.is_platform_staff
