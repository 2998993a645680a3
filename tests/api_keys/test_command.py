"""`manage.py api_keys create|list|revoke`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from chatbot.api_keys.models import ApiKey
from chatbot.api_keys.services import api_key_authenticate
from chatbot.sites.models import Site

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("api_keys", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_key_as_the_last_word_and_it_authenticates(shop_site: Site) -> None:
    output = run("create", "--site", "shop", "--scopes", "chat,knowledge")
    key = output.split()[-1]
    api_key = api_key_authenticate(key=key)
    assert api_key is not None and api_key.site == shop_site
    assert api_key.scopes == ["chat", "knowledge"]


def test_list_shows_prefixes_and_revoke_stops_a_key(shop_site: Site) -> None:
    key = run("create", "--site", "shop", "--scopes", "usage").split()[-1]
    stored = ApiKey.objects.get()
    listing = run("list")
    assert stored.prefix in listing and key not in listing and "active" in listing
    run("revoke", stored.prefix)
    assert api_key_authenticate(key=key) is None
    assert "revoked" in run("list", "--site", "shop")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--site", "nowhere", "--scopes", "chat"), "No site"),
        (("create", "--site", "shop", "--scopes", "chat,admin"), "Unknown scope 'admin'"),
        (("revoke", "cbk_unknown"), "No API key"),
    ],
)
def test_mistakes_are_refused_with_a_reason(shop_site: Site, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
