"""Tenancy over websockets: the console socket of organisation A's admin (who sees every site of
A) never lists, opens or acts on B's conversations, and hears nothing of B's live events. Every
websocket route is accounted for, so a new one fails `test_every_socket_route_is_accounted_for`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatbot.console.models import Operator, Role
from chatbot.conversations.models import ContactRequest, Visitor
from chatbot.conversations.services import conversation_handoff_request, message_receive
from chatbot.routing import websocket_urlpatterns
from chatbot.sites.models import Organisation, Site
from tests.console.conftest import make_operator, open_console, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

SOCKETS = {
    "ws/chat/": "the widget: a visitor reaches only their own conversation, by their signed token",
    "ws/console/": "the console: test_a_console_socket_of_a_never_shows_anything_of_b",
    "ws/echo/": "the benchmark's bare echo (CHATBOT_BENCH_ECHO only), no data",
}


def test_every_socket_route_is_accounted_for() -> None:
    assert {str(p.pattern) for p in websocket_urlpatterns} <= set(SOCKETS)


def _world() -> dict[str, Any]:
    alpha = Organisation.objects.create(slug="alpha-org", name="Alpha Org")
    bravo = Organisation.objects.create(slug="bravo-org", name="Bravo Org")
    a_site = Site.objects.create(key="alphasite", name="AlphaShopName", organisation=alpha)
    b_site = Site.objects.create(key="bravosite", name="BravoShopName", organisation=bravo)
    admin = make_operator("alpha-admin", sites=[], role=Role.ADMIN)
    Operator.objects.filter(pk=admin.pk).update(organisation=alpha)
    b_visitor = Visitor.objects.create(site=b_site)
    b_conversation = conversation_handoff_request(visitor=b_visitor)
    contact = ContactRequest.objects.create(conversation=b_conversation, email="bravo-contact@example.com", text="x")
    a_conversation = conversation_handoff_request(visitor=Visitor.objects.create(site=a_site))
    return {
        "cookie": session_cookie(admin.user),
        "b_visitor": b_visitor,
        "b_conversation": b_conversation.pk,
        "a_conversation": a_conversation.pk,
        "contact": contact.pk,
    }


async def test_a_console_socket_of_a_never_shows_anything_of_b(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["desk.example.net", "testserver", "localhost"]
    settings.CHATBOT_DISPATCH = "inline"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CHATBOT_REQUIRE_2FA_FOR_ADMINS = False
    settings.SECURE_SSL_REDIRECT = False  # the test console speaks plain HTTP
    world = await database_sync_to_async(_world)()
    connected, console = await open_console(world["cookie"])
    assert connected

    # The inbox has A's conversation (so it would show B's, were it there), and not B's.
    assert [c["id"] for c in console.inbox] == [world["a_conversation"]]
    for frame in (
        {"type": "open", "conversation": world["b_conversation"]},
        {"type": "claim", "conversation": world["b_conversation"]},
        {"type": "reply", "conversation": world["b_conversation"], "client_id": "x", "text": "planted"},
        {"type": "note", "conversation": world["b_conversation"], "text": "planted"},
        {"type": "close", "conversation": world["b_conversation"]},
        {"type": "contact_handled", "contact": world["contact"]},
    ):
        await console.send(frame)
        answer = await console.receive()
        assert answer["type"] == "error" and answer["code"] == "not_found", (frame, answer)

    # B's customer writes: A's console hears nothing of it.
    await database_sync_to_async(message_receive)(
        visitor=world["b_visitor"], client_id="b1", text="bravo-secret-message"
    )
    assert await console.communicator.receive_nothing(timeout=0.5)
    await console.send({"type": "inbox"})
    inbox = await console.receive()
    assert "bravo" not in json.dumps(inbox).lower()
    await console.close()
