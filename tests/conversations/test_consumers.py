"""The widget websocket, driven with Channels' WebsocketCommunicator: in-memory channel layer,
replies generated in-process with the real MiniLM model over the demo FAQ."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender
from tests.support.websockets import connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def in_process_replies() -> Any:
    with override_settings(CHATBOT_DISPATCH="inprocess"):
        yield


def is_bot_message(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["sender"] == "bot"


async def test_a_handshake_from_an_origin_the_site_does_not_allow_is_refused(demo_site: Any) -> None:
    for origin in [
        "https://evil.example",
        "http://shop.example.com",
        "https://shop.example.com.evil.net",
        None,
        "null",
    ]:
        connected, code = await connect(origin=origin)
        assert not connected, origin
        assert code == 4403


async def test_an_unknown_or_inactive_site_is_refused(demo_site: Any) -> None:
    assert (await connect(site="nope"))[0] is False
    await database_sync_to_async(type(demo_site).objects.filter(pk=demo_site.pk).update)(is_active=False)
    assert (await connect())[0] is False


async def test_the_first_frame_is_the_session_with_a_token_and_the_site_settings(demo_site: Any) -> None:
    connected, widget = await connect()
    assert connected
    session = widget.session
    assert session["type"] == "session"
    assert session["conversation"] is None and session["last_seq"] == 0 and session["status"] == "bot"
    assert session["token"] and session["site"]["name"] == "Lumen & Loom"
    await widget.close()


async def test_a_question_gets_an_ack_streamed_tokens_and_an_answer_citing_its_source(demo_site: Any) -> None:
    _, widget = await connect()
    client_id = await widget.ask("How much is postage?")
    frames = await widget.until(is_bot_message)
    ack = frames[0]
    assert ack == {"type": "ack", "client_id": client_id, "seq": 1, "conversation": ack["conversation"]}
    assert frames[1]["type"] == "message" and frames[1]["sender"] == "customer" and frames[1]["client_id"] == client_id
    tokens = [f["delta"] for f in frames if f["type"] == "token"]
    answer = frames[-1]
    assert tokens and "".join(tokens) == answer["text"]
    assert all(f["reply_to"] == 1 for f in frames if f["type"] == "token")
    assert answer["seq"] == 2 and answer["reply_to"] == 1
    assert answer["sources"][0]["question"] == "How much does shipping cost?"
    assert answer["intent"] == "faq" and answer["confidence"] > 0.45
    assert {"type": "typing", "sender": "bot"} in frames
    await widget.close()


async def test_a_resent_client_id_returns_the_same_ack_and_stores_nothing(demo_site: Any) -> None:
    _, widget = await connect()
    client_id = await widget.ask("How much is postage?")
    first = await widget.until(is_bot_message)
    await widget.ask("How much is postage?", client_id=client_id)
    ack = await widget.receive()
    assert ack == first[0]
    assert await database_sync_to_async(Message.objects.count)() == 2
    assert await widget.communicator.receive_nothing(timeout=0.5)
    await widget.close()


async def test_reconnecting_with_the_token_resumes_the_same_conversation_without_loss_or_duplicates(
    demo_site: Any,
) -> None:
    _, widget = await connect()
    await widget.ask("How much is postage?")
    await widget.until(is_bot_message)
    token = widget.session["token"]
    await widget.close()

    # While the visitor is away, a second tab of theirs asks something else.
    _, other_tab = await connect(token=token)
    await other_tab.ask("which light bulb should I buy for my lamp?")
    await other_tab.until(is_bot_message)
    await other_tab.close()

    _, widget = await connect(token=token)
    assert widget.session["conversation"] is not None and widget.session["last_seq"] == 4
    await widget.send({"type": "resume", "after_seq": 2})
    missed = [await widget.receive(), await widget.receive()]
    assert [(f["seq"], f["sender"]) for f in missed] == [(3, "customer"), (4, "bot")]
    assert missed[1]["sources"][0]["question"] == "Which bulbs do your lamps need and what wattage?"
    assert await widget.communicator.receive_nothing(timeout=0.5)
    await widget.close()


async def test_an_invalid_token_starts_a_new_visitor_and_says_so(demo_site: Any) -> None:
    connected, widget = await connect(token="not-a-real-token")
    assert connected
    assert widget.session["conversation"] is None
    error = await widget.receive()
    assert error["type"] == "error" and error["code"] == "token_invalid"
    await widget.close()


async def test_bad_frames_get_error_frames_and_the_connection_keeps_working(demo_site: Any) -> None:
    _, widget = await connect()
    await widget.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await widget.receive())["code"] == "binary_not_supported"
    for raw, code in [
        ("{nope", "bad_json"),
        ('{"type":"shout"}', "unknown_type"),
        ('{"type":"message","client_id":"x","text":""}', "bad_frame"),
        (json.dumps({"type": "message", "client_id": "x", "text": "a" * 20000}), "frame_too_large"),
        ('{"type":"feedback","seq":1,"value":"up"}', "no_conversation"),
    ]:
        await widget.send(raw)
        frame = await widget.receive()
        assert (frame["type"], frame["code"]) == ("error", code), raw
    await widget.ask("How much is postage?")
    assert (await widget.until(is_bot_message))[-1]["sources"]
    await widget.close()


async def test_html_in_a_message_is_stored_and_returned_verbatim_as_plain_text(demo_site: Any) -> None:
    _, widget = await connect()
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await widget.ask(payload)
    frames = await widget.until(is_bot_message)
    echoed = next(f for f in frames if f["type"] == "message" and f["sender"] == "customer")
    assert echoed["text"] == payload
    await widget.close()


async def test_asking_for_a_human_stops_the_bot_and_is_announced(demo_site: Any) -> None:
    _, widget = await connect()
    await widget.send({"type": "handoff"})
    frames = await widget.until(lambda f: f["type"] == "message")
    status = next(f for f in frames if f["type"] == "status")
    assert status["status"] == "waiting_human"
    assert status["handoff_timeout_s"] == settings.CHATBOT_HANDOFF_TIMEOUT_S
    assert datetime.fromisoformat(status["waiting_since"]) <= timezone.now()
    assert frames[-1]["sender"] == "system"
    await widget.ask("hello? anyone?")
    frames = await widget.until(lambda f: f["type"] == "message" and f["sender"] == "customer")
    assert await widget.communicator.receive_nothing(timeout=1.5)
    conversation = await database_sync_to_async(Conversation.objects.get)()
    assert conversation.status == ConversationStatus.WAITING_HUMAN
    assert not await database_sync_to_async(Message.objects.filter(sender=Sender.BOT).exists)()
    await widget.close()


async def test_feedback_on_an_answer_is_stored(demo_site: Any) -> None:
    _, widget = await connect()
    await widget.ask("How much is postage?")
    answer = (await widget.until(is_bot_message))[-1]
    await widget.send({"type": "feedback", "seq": answer["seq"], "value": "down"})
    await widget.send({"type": "feedback", "seq": 1, "value": "up"})
    assert (await widget.receive())["code"] == "unknown_seq"
    reply = await database_sync_to_async(Message.objects.get)(seq=answer["seq"])
    assert reply.feedback == "down"
    await widget.close()


async def test_two_tabs_of_one_visitor_both_see_every_message_once_and_typing_is_not_echoed(demo_site: Any) -> None:
    _, first = await connect()
    _, second = await connect(token=first.session["token"])
    await first.ask("How much is postage?")
    await first.until(is_bot_message)
    # The second tab joined the conversation the first one started, and got all of it.
    seen = await second.until(is_bot_message)
    messages = [f["seq"] for f in seen if f["type"] == "message"]
    assert messages == [1, 2]
    await second.send({"type": "typing"})
    assert await first.receive() == {"type": "typing", "sender": "customer"}
    assert await second.communicator.receive_nothing(timeout=0.5)
    await first.close()
    await second.close()


async def test_asking_for_a_person_in_words_is_answered_and_the_status_changes(demo_site: Any) -> None:
    _, widget = await connect()
    await widget.ask("can I speak to a human please")
    frames = await widget.until(lambda f: f["type"] == "status")
    reply = next(f for f in frames if f["type"] == "message" and f["sender"] == "bot")
    assert reply["decision"] == "handoff" and reply["handoff_offered"]
    assert frames[-1]["type"] == "status" and frames[-1]["status"] == "waiting_human"
    await widget.close()
