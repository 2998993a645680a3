"""The console's exports page: what operators and admins see and may do."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from chatbot.exports.models import ApiToken
from tests.exports.conftest import Seed, body

INDEX = "/console/exports/"
DOWNLOAD = "/console/exports/download/"


def test_the_page_needs_a_signed_in_operator(seed: Seed, client: Client) -> None:
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_operators_see_the_download_form_for_their_sites_only(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    response = signed_in(seed.olivia).get(INDEX)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="export-form"' in page
    assert '<option value="shop">' in page
    assert '<option value="other">' not in page
    assert "API tokens" not in page and 'data-testid="visitor-form"' not in page
    # The console's CSP allows no inline code: the page has none.
    assert "<script" not in page and "style=" not in page
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_admins_also_see_tokens_and_visitor_requests(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    page = signed_in(seed.admin).get(INDEX).content.decode()
    assert '<option value="shop">' in page and '<option value="other">' in page
    assert "API tokens" in page and 'data-testid="visitor-form"' in page


def test_an_operator_cannot_download_another_sites_transcripts(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    client = signed_in(seed.olivia)
    response = client.get(DOWNLOAD, {"format": "messages.csv", "site": "other"})
    assert response.status_code == 403
    assert b"You have no access to site" in response.content
    everything = list(csv.reader(io.StringIO(body(client.get(DOWNLOAD, {"format": "conversations.csv"})))))
    assert sorted(int(row[0]) for row in everything[1:]) == sorted([seed.returns.pk, seed.order.pk])


def test_a_bad_filter_shows_the_form_again_with_the_error(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    response = signed_in(seed.admin).get(DOWNLOAD, {"format": "messages.csv", "from": "31/12/2026"})
    assert response.status_code == 400
    assert b"from=&#x27;31/12/2026&#x27; is not a date; use YYYY-MM-DD." in response.content
    assert b'data-testid="export-form"' in response.content


def test_console_downloads_are_rate_limited_per_user(
    seed: Seed, signed_in: Callable[[Any], Client], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHATBOT_EXPORT_RATE_PER_MINUTE = 1
    monkeypatch.setattr("chatbot.ratelimit.time", SimpleNamespace(time=lambda: 1_000_020.0))
    client = signed_in(seed.olivia)
    assert client.get(DOWNLOAD, {"format": "messages.csv"}).status_code == 200
    limited = client.get(DOWNLOAD, {"format": "messages.csv"})
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"


def test_an_admin_creates_a_token_that_is_shown_once_and_works(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    admin = signed_in(seed.admin)
    response = admin.post("/console/exports/tokens/", {"name": "warehouse", "user": seed.olivia.pk})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    shown = re.search(r'value="(cbd_[^"]+)" aria-label="The new token"', response.content.decode())
    assert shown is not None
    key = shown.group(1)
    token = ApiToken.objects.get()
    assert (token.name, token.user, token.prefix) == ("warehouse", seed.olivia, key[:8])

    # Shown once: the page never shows it again.
    assert key not in admin.get(INDEX).content.decode()
    assert token.prefix in admin.get(INDEX).content.decode()

    # It acts as olivia: her site only.
    api = Client()
    assert api.get("/api/v1/exports/messages.csv", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    forbidden = api.get("/api/v1/exports/messages.csv?site=other", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert forbidden.status_code == 403

    # Revoked from the console, it stops working.
    response = admin.post(f"/console/exports/tokens/{token.pk}/revoke/", follow=True)
    assert b"revoked" in response.content
    assert api.get("/api/v1/exports/messages.csv", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_a_token_needs_a_name_and_a_console_user(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    from django.contrib.auth import get_user_model

    outsider = get_user_model().objects.create_user("outsider")  # no Operator record
    admin = signed_in(seed.admin)
    assert admin.post("/console/exports/tokens/", {"name": "", "user": seed.olivia.pk}).status_code == 400
    assert admin.post("/console/exports/tokens/", {"name": "x", "user": outsider.pk}).status_code == 400
    assert not ApiToken.objects.exists()


def test_operators_cannot_create_or_revoke_tokens(
    seed: Seed, signed_in: Callable[[Any], Client], token_for: Callable[[Any], str]
) -> None:
    token_for(seed.admin)
    token = ApiToken.objects.get()
    client = signed_in(seed.olivia)
    assert client.post("/console/exports/tokens/", {"name": "mine", "user": seed.olivia.pk}).status_code == 403
    assert client.post(f"/console/exports/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get().revoked_at is None
    assert ApiToken.objects.count() == 1


def test_the_form_as_a_browser_sends_it_exports_everything_the_user_may_see(
    seed: Seed, signed_in: Callable[[Any], Client]
) -> None:
    empty = {"site": "", "from": "", "to": "", "status": "", "intent": "", "sentiment": ""}
    response = signed_in(seed.admin).get(DOWNLOAD, {"format": "conversations.csv", **empty})
    assert response.status_code == 200
    assert len(list(csv.reader(io.StringIO(body(response))))) == 4
