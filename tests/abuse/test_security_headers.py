"""Every HTML page carries a Content-Security-Policy: the console, the admin, the demo page and
error pages. Scripts come from this server only, websockets go to the page's own host only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chatbot.sites.models import Site

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plain_http(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = False


def policy(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in header.split(";"))}


@pytest.mark.parametrize(
    "path", ["/console/login/", "/admin/login/", "/admin/", "/console/", "/no-such-page/", "/console/two-factor/"]
)
def test_every_page_has_a_strict_policy(client: Client, path: str) -> None:
    response = client.get(path, follow=True)
    directives = policy(response)
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"


def test_websockets_may_go_to_the_pages_own_host_only(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["desk.example.com", "desk.example.com:8443"]
    for host in ("desk.example.com", "desk.example.com:8443"):
        connect = policy(client.get("/console/login/", HTTP_HOST=host))["connect-src"]
        assert connect == f"'self' ws://{host} wss://{host}"
    # A Host the server does not serve gets no host in its policy (and a 400 page).
    response = client.get("/console/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and policy(response)["connect-src"] == "'self'"


def test_the_demo_page_allows_the_shops_inline_styles_but_no_inline_script(client: Client) -> None:
    Site.objects.create(key="demo", name="Demo", allowed_origins=["http://testserver"])
    response = client.get("/")
    assert response.status_code == 200 and b"widget.js" in response.content
    directives = policy(response)
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["connect-src"] == "'self' ws://testserver wss://testserver"
