"""Origins at the websocket handshakes, and why a forged Origin still reads nobody's conversation:
the widget's conversations are reached only through visitor tokens, which are signed, expire, and
are bound to one site and one visitor."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core import signing
from django.test import override_settings

from chatbot.sites.models import Site
from tests.console.conftest import make_operator, open_console, session_cookie
from tests.support.websockets import Widget, connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_replies", "empty_cache")]

LOOK_ALIKES = [
    None,  # no Origin header at all
    "null",  # sandboxed iframes, file:// pages
    "",
    "http://shop.example.com",  # other scheme
    "https://shop.example.com:8443",  # other port
    "https://shop.example.com.evil.net",
    "https://evil-shop.example.com",
    "https://shop.example.com@evil.net",
    "https://SHOP.EXAMPLE.COM.EVIL.NET",
    "https://shop.example.com.evil.net.",
    "https://shop.example.com..",
    "HTTPS://EVIL-SHOP.EXAMPLE.COM",
    "https://shop.example.co",
    "https://xn--shp-sna.example.com",  # an IDN look-alike ("shöp")
]


@pytest.mark.parametrize("origin", LOOK_ALIKES)
async def test_a_look_alike_or_missing_origin_is_refused_at_the_widgets_handshake(
    shop: Site, origin: str | None
) -> None:
    assert await connect(origin=origin) == (False, 4403)


@pytest.mark.parametrize(
    "origin", ["https://shop.example.com", "https://SHOP.example.com", "https://shop.example.com."]
)
async def test_the_sites_own_origin_is_accepted_whatever_its_case_or_trailing_dot(shop: Site, origin: str) -> None:
    connected, widget = await connect(origin=origin)
    assert connected and widget.session["type"] == "session"
    await widget.close()


@pytest.fixture
def operator_cookie(shop: Site, settings: Any) -> str:
    settings.ALLOWED_HOSTS = ["desk.example.net"]
    operator = make_operator("alex", sites=[shop])
    return session_cookie(operator.user)


@pytest.mark.parametrize(
    "origin",
    [
        "",
        "null",
        "http://desk.example.net",  # an http page of the same host, behind https
        "https://desk.example.net:8443",
        "https://desk.example.net.evil.net",
        "https://evil-desk.example.net",
        "https://desk.example.net@evil.net",
        "https://DESK.EXAMPLE.NET.EVIL.NET",
        "https://shop.example.com",  # a site's widget origin is not the console's
    ],
)
async def test_the_console_refuses_any_origin_but_its_own_https_page(operator_cookie: str, origin: str) -> None:
    with override_settings(SECURE_SSL_REDIRECT=True):  # production: the console is served over https only
        assert await open_console(operator_cookie, origin=origin) == (False, 4403)
        connected, console = await open_console(operator_cookie, origin="https://desk.example.net")
    assert connected and console.hello["type"] == "hello"
    await console.close()


async def test_a_forged_origin_without_the_visitors_token_sees_nothing_of_their_conversation(shop: Site) -> None:
    _, alice = await connect()
    await alice.ask("My address is 1 Secret Lane, please change my order")
    ack = (await alice.until(lambda f: f["type"] == "ack"))[-1]
    await alice.until(lambda f: f["type"] == "message")
    conversation = ack["conversation"]

    # Mallory's script sends the shop's Origin (any non-browser client can) but has no token.
    _, mallory = await connect(origin="https://shop.example.com")
    assert mallory.session["conversation"] is None and mallory.session["visitor"] != alice.session["visitor"]
    await mallory.send({"type": "resume", "after_seq": 0})
    await mallory.send({"type": "feedback", "seq": 1, "value": "down"})
    assert (await mallory.receive())["code"] == "no_conversation"
    await mallory.send({"type": "rating", "conversation": conversation, "score": 1})
    assert (await mallory.receive())["code"] == "unknown_conversation"
    await alice.ask("And my phone is 555-0100")
    await alice.until(lambda f: f["type"] == "message")
    assert await mallory.communicator.receive_nothing(timeout=0.5)
    await alice.close()
    await mallory.close()


async def _token_is_refused(token: str, site: str = "demo") -> Widget:
    """Connect with `token`: the server must start a new visitor with no conversation, and say so."""
    connected, widget = await connect(site=site, token=token)
    assert connected
    assert widget.session["conversation"] is None
    assert (await widget.receive())["code"] == "token_invalid"
    return widget


async def test_a_tampered_foreign_or_expired_token_does_not_open_the_visitors_conversation(shop: Site) -> None:
    await database_sync_to_async(Site.objects.create)(
        key="other", name="Other", allowed_origins=["https://shop.example.com"]
    )
    _, alice = await connect()
    await alice.ask("Where is my order?")
    await alice.until(lambda f: f["type"] == "ack")
    token, visitor = alice.session["token"], alice.session["visitor"]

    # The real token works (the control): it opens Alice's conversation.
    _, again = await connect(token=token)
    assert again.session["visitor"] == visitor and again.session["conversation"] is not None

    payload, _, signature = token.rpartition(":")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    forged_elsewhere = signing.dumps(
        {"s": "demo", "v": visitor}, key="a-key-that-is-not-the-servers-0123456789", salt="chatbot.visitor-token.v1"
    )
    unsigned = signing.dumps({"s": "demo", "v": visitor}, salt="another-salt")
    refused = [
        await _token_is_refused(f"{payload}:{flipped}"),  # tampered signature
        await _token_is_refused(forged_elsewhere),  # signed with another key
        await _token_is_refused(unsigned),  # signed for another purpose
        await _token_is_refused(token, site="other"),  # another site's widget
    ]
    with override_settings(CHATBOT_VISITOR_TOKEN_MAX_AGE=-1):
        refused.append(await _token_is_refused(token))  # expired
    assert all(w.session["visitor"] != visitor for w in refused)
    for widget in [alice, again, *refused]:
        await widget.close()
