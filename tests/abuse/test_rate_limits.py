"""Rate limits of the widget's websocket: connections, messages and new conversations, per client
address, per visitor and per site, each past its limit answered by a `rate_limited` error frame."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatbot.console.services import conversation_close
from chatbot.conversations.models import Conversation, Message
from chatbot.sites.models import Site
from tests.console.conftest import make_operator
from tests.support.websockets import Widget, connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_replies", "empty_cache")]

ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.9"


async def assert_refused_for_rate(connected: bool, widget: Any, retry_after: int = 50) -> None:
    """A rate-limited handshake is accepted only to say why, then closed with 4429."""
    assert connected
    assert widget.session == {
        "type": "error",
        "code": "rate_limited",
        "message": f"Too many connections from here. Please wait {retry_after} seconds.",
        "retry_after": retry_after,
    }
    closed = await widget.communicator.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4429)


async def ask(widget: Widget, text: str = "Where is my parcel?") -> dict[str, Any]:
    """Send a message; the answer to it: its ack, or an error frame."""
    client_id = await widget.ask(text)
    while True:
        frame = await widget.receive()
        if frame["type"] == "ack" or frame["type"] == "error":
            assert frame["client_id"] == client_id
            return frame


async def stored_messages() -> int:
    return await database_sync_to_async(Message.objects.count)()


async def test_connections_past_the_per_address_limit_are_told_to_wait_and_closed(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(connections={"ip": 2})
    first = [await connect(client=ADDRESS) for _ in range(2)]
    assert all(connected and widget.session["type"] == "session" for connected, widget in first)
    await assert_refused_for_rate(*await connect(client=ADDRESS))
    # Another address is not affected, and the next minute this one may connect again.
    connected, other = await connect(client=OTHER_ADDRESS)
    assert connected and other.session["type"] == "session"
    clock.value += 50
    connected, again = await connect(client=ADDRESS)
    assert connected and again.session["type"] == "session"
    for widget in [*(w for _, w in first), other, again]:
        await widget.close()


async def test_a_refused_origin_still_counts_against_its_address(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(connections={"ip": 2})
    assert await connect(client=ADDRESS, origin="https://evil.example") == (False, 4403)
    assert await connect(client=ADDRESS, site="nope") == (False, 4403)
    await assert_refused_for_rate(*await connect(client=ADDRESS))


async def test_connections_past_the_per_visitor_limit_are_refused_whatever_the_address(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(connections={"visitor": 2})
    _, first = await connect(client=ADDRESS)
    token = first.session["token"]  # the visitor's first connection came without a token
    _, second = await connect(token=token, client=OTHER_ADDRESS)
    _, third = await connect(token=token, client="192.0.2.1")
    assert second.session["type"] == third.session["type"] == "session"
    await assert_refused_for_rate(*await connect(token=token, client="192.0.2.2"))
    # A new visitor (no token) is someone else.
    connected, stranger = await connect(client="192.0.2.2")
    assert connected and stranger.session["type"] == "session"
    for widget in (first, second, third, stranger):
        await widget.close()


async def test_connections_past_the_per_site_limit_are_refused_and_other_sites_are_not(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    await database_sync_to_async(Site.objects.create)(
        key="other", name="Other", allowed_origins=["https://shop.example.com"]
    )
    limits(connections={"site": 2})
    widgets = [(await connect(client=f"192.0.2.{n}"))[1] for n in range(2)]
    await assert_refused_for_rate(*await connect(client="192.0.2.99"))
    connected, elsewhere = await connect(site="other", client="192.0.2.99")
    assert connected and elsewhere.session["type"] == "session"
    for widget in [*widgets, elsewhere]:
        await widget.close()


async def test_messages_past_the_per_visitor_limit_get_a_rate_limited_error_and_are_not_stored(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(messages={"visitor": 3})
    _, widget = await connect()
    for _ in range(3):
        assert (await ask(widget))["type"] == "ack"
    refused = await ask(widget)
    assert refused == {
        "type": "error",
        "code": "rate_limited",
        "message": "You're sending messages too quickly. Please wait 50 seconds.",
        "retry_after": 50,
        "client_id": refused["client_id"],
    }
    assert await stored_messages() == 3
    # The connection stays open, another visitor is not affected, and next minute it may talk again.
    _, other = await connect()
    assert (await ask(other))["type"] == "ack"
    clock.value += 50
    assert (await ask(widget))["type"] == "ack"
    await widget.close()
    await other.close()


async def test_handoff_and_contact_frames_count_as_messages(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(messages={"visitor": 2})
    _, widget = await connect()
    await widget.send({"type": "handoff"})
    await widget.until(lambda f: f["type"] == "message" and f["sender"] == "system")
    await widget.send({"type": "contact", "email": "ann@example.com", "text": "Call me"})
    await widget.until(lambda f: f["type"] == "message" and f["sender"] == "system" and "e-mail" in f["text"])
    await widget.send({"type": "handoff"})
    refused = await widget.receive()
    assert (refused["code"], refused["retry_after"]) == ("rate_limited", 50)
    assert "client_id" not in refused
    await widget.close()


async def test_visitors_behind_one_address_share_its_message_budget(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(messages={"ip": 3})
    _, first = await connect(client=ADDRESS)
    _, second = await connect(client=ADDRESS)
    _, elsewhere = await connect(client=OTHER_ADDRESS)
    assert [(await ask(w))["type"] for w in (first, second, first)] == ["ack"] * 3
    assert (await ask(second))["code"] == "rate_limited"
    assert (await ask(elsewhere))["type"] == "ack"
    for widget in (first, second, elsewhere):
        await widget.close()


async def test_messages_past_the_per_site_limit_are_refused(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(messages={"site": 2})
    widgets = [(await connect())[1] for _ in range(3)]
    assert [(await ask(w))["type"] for w in widgets] == ["ack", "ack", "error"]
    for widget in widgets:
        await widget.close()


async def test_new_conversations_past_the_per_address_limit_are_refused_and_nothing_is_created(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    # Each connection without a token is a new visitor, whose first message starts a conversation:
    # the per-address count of new conversations is what stops one client from minting thousands.
    limits(conversations={"ip": 2})
    widgets = [(await connect(client=ADDRESS))[1] for _ in range(3)]
    assert [(await ask(w))["type"] for w in widgets[:2]] == ["ack", "ack"]
    refused = await ask(widgets[2])
    assert refused["code"] == "rate_limited"
    assert refused["message"] == "Too many new conversations. Please wait 50 seconds."
    assert await database_sync_to_async(Conversation.objects.count)() == 2
    # A visitor who already has a conversation goes on talking in it.
    assert (await ask(widgets[0], "and another thing"))["type"] == "ack"
    for widget in widgets:
        await widget.close()


async def test_new_conversations_past_the_per_visitor_and_per_site_limits_are_refused(
    shop: Site, limits: Callable[..., None], clock: SimpleNamespace
) -> None:
    limits(conversations={"visitor": 1, "site": 2})
    _, widget = await connect()
    assert (await ask(widget))["type"] == "ack"
    # An operator closes it; the visitor's next message would start a second conversation.
    conversation = await database_sync_to_async(Conversation.objects.get)()
    operator = await database_sync_to_async(make_operator)("olga", sites=[shop])
    await database_sync_to_async(conversation_close)(conversation_id=conversation.pk, operator=operator)
    await widget.until(lambda f: f["type"] == "status" and f["status"] == "closed")
    assert (await ask(widget))["code"] == "rate_limited"
    # The site's budget: one more visitor may start a conversation, the next may not.
    second, third = (await connect())[1], (await connect())[1]
    assert (await ask(second))["type"] == "ack"
    assert (await ask(third))["code"] == "rate_limited"
    for w in (widget, second, third):
        await w.close()


async def test_a_limit_of_zero_turns_it_off(shop: Site, limits: Callable[..., None], clock: SimpleNamespace) -> None:
    limits()
    _, widget = await connect(client=ADDRESS)
    for _ in range(40):
        assert (await ask(widget))["type"] == "ack"
    await widget.close()


async def test_the_default_limits_leave_a_lively_visitor_alone(shop: Site, clock: SimpleNamespace) -> None:
    """A customer who reconnects a few times and sends 20 messages in a minute is never limited."""
    token = None
    for _ in range(5):
        connected, widget = await connect(token=token, client=ADDRESS)
        assert connected and widget.session["type"] == "session"
        token = widget.session["token"]
        for _ in range(4):
            assert (await ask(widget))["type"] == "ack"
        await widget.close()
