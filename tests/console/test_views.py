"""Console pages: sign-in, who may enter, and the security headers."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chatbot.console.models import CannedResponse
from chatbot.security_headers import content_security_policy
from chatbot.sites.models import Site
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


def test_the_console_sends_a_visitor_who_is_not_signed_in_to_the_login_page(client: Client) -> None:
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_an_operator_signs_in_with_username_and_password_and_sees_the_inbox(shop_site: Site) -> None:
    make_operator("alex", sites=[shop_site])
    client = Client()
    page = client.post("/console/login/", {"username": "alex", "password": "pw-alex"}, follow=True)
    assert page.status_code == 200 and b'data-testid="conversation-list"' in page.content
    csp = page["Content-Security-Policy"]
    assert csp == content_security_policy(host="testserver")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # Websockets to this host only, not to any host (`ws: wss:`).
    assert "connect-src 'self' ws://testserver wss://testserver;" in csp and " ws: " not in csp
    wrong = Client().post("/console/login/", {"username": "alex", "password": "nope"})
    assert wrong.status_code == 200 and b"didn't match" in wrong.content


def test_a_staff_account_without_an_operator_record_is_refused(client: Client) -> None:
    user = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get("/console/").status_code == 403


def test_a_superuser_is_an_admin_of_the_console_without_further_setup(client: Client) -> None:
    user = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(user)
    assert client.get("/console/").status_code == 200
    assert user.operator.role == "admin"


def test_the_inbox_offers_the_canned_responses_of_the_operators_sites_only(client: Client, shop_site: Site) -> None:
    other = Site.objects.create(key="other", name="Other")
    CannedResponse.objects.create(site=shop_site, shortcut="refund", title="Refund", text="Refunds take 5 days.")
    CannedResponse.objects.create(site=other, shortcut="secret", title="Other", text="Other shop's text")
    CannedResponse.objects.create(site=None, shortcut="hello", title="Hello", text="Hi there!")
    client.force_login(make_operator("alex", sites=[shop_site]).user)
    canned = client.get("/console/").context["canned"]
    assert sorted(c["shortcut"] for c in canned) == ["hello", "refund"]


def test_the_demo_setup_creates_an_operator_login_for_the_demo_site(settings: Any, tmp_path: Any) -> None:
    from django.core.management import call_command

    import chatbot.web.management.commands.demo_setup  # noqa: F401  (its FAQ path is read from BASE_DIR on import)

    settings.BASE_DIR = tmp_path  # the generated passwords go to tmp_path/var
    call_command("demo_setup", "--no-embed")
    password = (tmp_path / "var" / "demo-operator-password").read_text().strip()
    client = Client()
    # Through the login page: its request is what the sign-in throttling (django-axes) counts by.
    assert client.post("/console/login/", {"username": "operator", "password": password}).status_code == 302
    operator = get_user_model().objects.get(username="operator").operator
    assert [s.key for s in operator.sites.all()] == ["demo"] and operator.role == "operator"
    assert CannedResponse.objects.filter(site__key="demo").count() >= 3
