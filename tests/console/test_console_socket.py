"""The operator console's websocket with a widget beside it: live inbox, takeover, replies,
notes, typing, hand-back and close, driven through Channels' communicator."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatbot.console.models import Note, Role
from chatbot.conversations.models import ContactRequest, Conversation, ConversationStatus, Message, Sender
from chatbot.sites.models import Site
from tests.console.conftest import make_operator, open_console, session_cookie
from tests.support.websockets import connect

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(console_settings: Any, shop_site: Site) -> dict[str, Any]:
    shop_site.key = "demo"  # the widget test client connects to site "demo"
    shop_site.save()
    other = Site.objects.create(key="other", name="Other shop", allowed_origins=["https://other.example.com"])
    return {
        "site": shop_site,
        "other": other,
        "alex": make_operator("alex", sites=[shop_site]),
        "sam": make_operator("sam", sites=[shop_site]),
        "olga": make_operator("olga", sites=[other]),
    }


async def _cookie(operator: Any) -> str:
    return await database_sync_to_async(session_cookie)(operator.user)


async def _waiting_customer() -> Any:
    """A widget whose customer asked for a person (so the bot stays out of it)."""
    _, widget = await connect()
    await widget.send({"type": "handoff"})
    await widget.until(lambda f: f["type"] == "message" and f["sender"] == "system")
    return widget


def _is(kind: str) -> Any:
    return lambda frame: frame["type"] == kind


async def test_a_console_without_a_signed_in_operator_or_from_another_origin_is_refused(people: Any) -> None:
    assert await open_console(None) == (False, 4403)
    cookie = await _cookie(people["alex"])
    assert await open_console(cookie, origin="https://evil.example") == (False, 4403)
    connected, console = await open_console(cookie)
    assert connected and console.hello["operator"]["name"] == "Alex"
    await console.close()


async def test_a_customer_asking_for_a_human_appears_live_in_the_inbox_with_a_notification(people: Any) -> None:
    _, console = await open_console(await _cookie(people["alex"]))
    assert console.inbox == []
    widget = await _waiting_customer()
    frames = await console.until(_is("notify"))
    rows = [f["conversation"] for f in frames if f["type"] == "conversation"]
    assert rows and rows[-1]["status"] == "waiting_human" and rows[-1]["waiting_since"]
    assert frames[-1]["conversation"]["site"]["key"] == "demo"
    await widget.close()
    await console.close()


async def test_an_operator_never_sees_another_sites_conversations(people: Any) -> None:
    _, olga = await open_console(await _cookie(people["olga"]))
    widget = await _waiting_customer()
    conversation = await database_sync_to_async(Conversation.objects.get)()
    assert await olga.communicator.receive_nothing(timeout=0.5)
    await olga.send({"type": "open", "conversation": conversation.pk})
    assert (await olga.receive())["code"] == "not_found"
    await olga.send({"type": "claim", "conversation": conversation.pk})
    assert (await olga.receive())["code"] == "not_found"
    await olga.send({"type": "inbox"})
    assert (await olga.receive())["conversations"] == []
    await widget.close()
    await olga.close()


async def test_the_operator_takes_over_and_the_customer_sees_the_reply_and_the_bot_stays_silent(people: Any) -> None:
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(people["alex"]))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "open", "conversation": conversation_id})
    view = await console.receive()
    assert view["type"] == "conversation_view" and [m["sender"] for m in view["messages"]] == ["system"]

    await console.send({"type": "claim", "conversation": conversation_id})
    claimed = await console.until(_is("claim_result"))
    assert claimed[-1]["won"] is True
    frames = await widget.until(lambda f: f["type"] == "message" and f["sender"] == "system")
    assert {"type": "status", "status": "human"} in frames
    assert frames[-1]["text"] == "Alex joined the chat."

    await console.send(
        {"type": "reply", "conversation": conversation_id, "client_id": "op-1", "text": "Hi, Alex here."}
    )
    reply = (await widget.until(lambda f: f["type"] == "message" and f["sender"] == "operator"))[-1]
    assert reply["text"] == "Hi, Alex here." and reply["author"] == "Alex"

    await widget.ask("Thanks! Where is my parcel?")
    seen = await console.until(lambda f: f["type"] == "message" and f["sender"] == "customer")
    assert seen[-1]["text"] == "Thanks! Where is my parcel?"
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == ConversationStatus.HUMAN and conversation.first_human_reply_at is not None
    assert not await database_sync_to_async(Message.objects.filter(sender=Sender.BOT).exists)()
    await widget.close()
    await console.close()


async def test_two_operators_claiming_at_once_exactly_one_wins_and_the_other_is_told(people: Any) -> None:
    import asyncio

    widget = await _waiting_customer()
    _, alex = await open_console(await _cookie(people["alex"]))
    _, sam = await open_console(await _cookie(people["sam"]))
    conversation_id = alex.inbox[0]["id"]
    await asyncio.gather(
        alex.send({"type": "claim", "conversation": conversation_id}),
        sam.send({"type": "claim", "conversation": conversation_id}),
    )
    results = [(await alex.until(_is("claim_result")))[-1], (await sam.until(_is("claim_result")))[-1]]
    assert sorted(r["won"] for r in results) == [False, True]
    winner = "Alex" if results[0]["won"] else "Sam"
    assert {r["holder"] for r in results} == {winner}
    joined = await database_sync_to_async(list)(Message.objects.filter(text__endswith="joined the chat."))
    assert len(joined) == 1
    await widget.close()
    await alex.close()
    await sam.close()


async def test_internal_notes_reach_operators_and_never_the_customer(people: Any) -> None:
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(people["alex"]))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "open", "conversation": conversation_id})
    await console.until(_is("conversation_view"))
    await console.send({"type": "note", "conversation": conversation_id, "text": "VIP customer, refund approved"})
    note = (await console.until(_is("note")))[-1]
    assert note["text"] == "VIP customer, refund approved" and note["author"] == "Alex"
    assert await widget.communicator.receive_nothing(timeout=0.5)
    await widget.send({"type": "resume", "after_seq": 0})
    replayed = [await widget.receive() for _ in range(1)]
    assert all("VIP" not in frame.get("text", "") for frame in replayed)
    assert await database_sync_to_async(Note.objects.count)() == 1
    await widget.close()
    await console.close()


async def test_typing_is_shown_both_ways(people: Any) -> None:
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(people["alex"]))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "open", "conversation": conversation_id})
    await console.until(_is("conversation_view"))
    await widget.send({"type": "typing"})
    typing = (await console.until(_is("typing")))[-1]
    assert typing == {"type": "typing", "sender": "customer", "conversation": conversation_id}
    await console.send({"type": "typing", "conversation": conversation_id})
    assert (await widget.until(_is("typing")))[-1] == {"type": "typing", "sender": "operator"}
    assert await console.communicator.receive_nothing(timeout=0.3)  # not its own typing back
    await widget.close()
    await console.close()


async def test_replying_without_taking_over_is_refused_and_nothing_is_sent(people: Any) -> None:
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(people["alex"]))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "reply", "conversation": conversation_id, "client_id": "x1", "text": "hello"})
    error = (await console.until(_is("error")))[-1]
    assert error["code"] == "not_assigned" and error["conversation"] == conversation_id
    assert not await database_sync_to_async(Message.objects.filter(sender=Sender.OPERATOR).exists)()
    await widget.close()
    await console.close()


async def test_closing_ends_the_chat_and_the_customers_next_message_starts_a_new_conversation(people: Any) -> None:
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(people["alex"]))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "claim", "conversation": conversation_id})
    await console.until(_is("claim_result"))
    await console.send({"type": "close", "conversation": conversation_id})
    frames = await widget.until(lambda f: f["type"] == "message" and f["text"].endswith("closed the chat."))
    assert {"type": "status", "status": "closed"} in frames
    await widget.send({"type": "rating", "conversation": conversation_id, "score": 5})
    assert (await widget.until(_is("rated")))[-1]["score"] == 5
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == ConversationStatus.CLOSED and conversation.closed_at and conversation.csat == 5
    row = (await console.until(lambda f: f["type"] == "conversation" and f["kind"] == "rating"))[-1]
    assert row["conversation"]["csat"] == 5
    assert row["conversation"]["status"] == "closed"
    await widget.send({"type": "handoff"})
    await widget.until(lambda f: f["type"] == "message" and f["sender"] == "system")
    assert await database_sync_to_async(Conversation.objects.count)() == 2
    await widget.close()
    await console.close()


async def test_a_customer_cannot_rate_someone_elses_conversation(people: Any) -> None:
    first = await _waiting_customer()
    conversation_id = (await database_sync_to_async(Conversation.objects.get)()).pk
    _, stranger = await connect()
    await stranger.send({"type": "rating", "conversation": conversation_id, "score": 1})
    assert (await stranger.receive())["code"] == "unknown_conversation"
    assert (await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)).csat is None
    await first.close()
    await stranger.close()


async def test_a_contact_request_left_in_the_widget_is_stored_confirmed_and_shown_in_the_inbox(people: Any) -> None:
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(people["alex"]))
    await widget.send({"type": "contact", "email": "not-an-address", "text": "call me"})
    assert (await widget.receive())["code"] == "bad_frame"
    await widget.send({"type": "contact", "email": "jo@example.org", "text": "My parcel never came."})
    confirmation = (await widget.until(lambda f: f["type"] == "message"))[-1]
    assert confirmation["sender"] == "system" and "jo@example.org" in confirmation["text"]
    row = (await console.until(lambda f: f["type"] == "conversation" and f["kind"] == "contact"))[-1]
    assert row["conversation"]["open_contacts"] == 1
    contact = await database_sync_to_async(ContactRequest.objects.get)()
    assert (contact.email, contact.text) == ("jo@example.org", "My parcel never came.")
    await console.send({"type": "open", "conversation": row["conversation"]["id"]})
    view = (await console.until(_is("conversation_view")))[-1]
    assert view["contacts"][0]["email"] == "jo@example.org"
    await console.send({"type": "contact_handled", "contact": contact.pk})
    handled = await console.until(lambda f: f["type"] == "conversation" and f["conversation"]["open_contacts"] == 0)
    assert handled
    await widget.close()
    await console.close()


async def test_a_reconnecting_console_gets_the_inbox_as_it_is_now(people: Any) -> None:
    _, console = await open_console(await _cookie(people["alex"]))
    await console.close()
    widget = await _waiting_customer()  # happens while the console is away
    connected, again = await open_console(await _cookie(people["alex"]))
    assert connected and [row["status"] for row in again.inbox] == ["waiting_human"]
    await widget.close()
    await again.close()


async def test_an_admin_sees_every_site(people: Any) -> None:
    admin = await database_sync_to_async(make_operator)("root", sites=[], role=Role.ADMIN)
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(admin))
    assert [row["site"]["key"] for row in console.inbox] == ["demo"]
    await widget.close()
    await console.close()


@pytest.mark.slow
async def test_handing_back_to_the_bot_lets_it_answer_again(console_settings: Any, demo_site: Site) -> None:
    alex = await database_sync_to_async(make_operator)("alex", sites=[demo_site])
    widget = await _waiting_customer()
    _, console = await open_console(await _cookie(alex))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "claim", "conversation": conversation_id})
    await console.until(_is("claim_result"))
    await console.send({"type": "release", "conversation": conversation_id})
    frames = await widget.until(lambda f: f["type"] == "message" and "handed the chat back" in f["text"])
    assert {"type": "status", "status": "bot"} in frames
    await widget.ask("How long does delivery take?")
    reply = (await widget.until(lambda f: f["type"] == "message" and f["sender"] == "bot", timeout=60))[-1]
    assert reply["decision"] in {"answer", "clarify"}
    await widget.close()
    await console.close()


async def test_a_console_back_from_a_dropped_connection_gets_exactly_the_messages_it_missed(people: Any) -> None:
    widget = await _waiting_customer()
    cookie = await _cookie(people["alex"])
    _, console = await open_console(cookie)
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "open", "conversation": conversation_id})
    seen = (await console.until(_is("conversation_view")))[-1]["messages"]
    await console.close()
    for text in ("are you there?", "hello??"):
        await widget.ask(text)
        await widget.until(_is("ack"))
    _, again = await open_console(cookie)
    await again.send({"type": "open", "conversation": conversation_id, "after_seq": seen[-1]["seq"]})
    missed = (await again.until(_is("conversation_view")))[-1]["messages"]
    assert [m["text"] for m in missed] == ["are you there?", "hello??"]
    assert [m["seq"] for m in missed] == [seen[-1]["seq"] + 1, seen[-1]["seq"] + 2]
    await widget.close()
    await again.close()


async def test_a_message_whose_sentiment_changes_is_updated_in_the_open_conversation(people: Any) -> None:
    from chatbot.learning.services import sentiment_correction_set

    widget = await _waiting_customer()
    await widget.ask("Great, the lamp came broken. Just great.")
    _, console = await open_console(await _cookie(people["alex"]))
    conversation_id = console.inbox[0]["id"]
    await console.send({"type": "open", "conversation": conversation_id})
    view = await console.until(_is("conversation_view"))
    question = next(m for m in view[-1]["messages"] if m["sender"] == "customer")
    assert question["sentiment_corrected"] is None

    await database_sync_to_async(sentiment_correction_set)(
        conversation_id=conversation_id, seq=question["seq"], label="negative", site_ids={people["site"].pk}
    )

    # The sentiment score of the message may still come in first, as an update of its own.
    updates = await console.until(lambda f: f["type"] == "message_update" and f["sentiment_corrected"] is not None)
    update = updates[-1]
    assert (update["seq"], update["sentiment_corrected"], update["text"]) == (
        question["seq"],
        "negative",
        "Great, the lamp came broken. Just great.",
    )
    await widget.close()
    await console.close()


def _conversations(site: Site, count: int) -> list[Conversation]:
    from chatbot.conversations.models import Visitor

    return [Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site)) for _ in range(count)]


async def test_a_burst_of_inbox_changes_costs_a_console_a_few_reads_not_one_per_change(
    people: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.console import selectors
    from chatbot.conversations import events

    settings.CHATBOT_CONSOLE_INBOX_INTERVAL_S = 0.5
    reads: list[list[int]] = []
    rows_get = selectors.inbox_rows_get

    def counted(*, conversation_ids: Any, site_ids: Any) -> list[dict[str, Any]]:
        reads.append(sorted(conversation_ids))
        return rows_get(conversation_ids=conversation_ids, site_ids=site_ids)

    monkeypatch.setattr(selectors, "inbox_rows_get", counted)
    site = people["site"]
    conversations = await database_sync_to_async(_conversations)(site, 3)
    _, console = await open_console(await _cookie(people["alex"]))
    for _ in range(10):
        for conversation in conversations:
            events.publish_inbox(site_id=site.pk, conversation_id=conversation.pk, kind="message")
    seen: set[int] = set()
    expected = {conversation.pk for conversation in conversations}
    while seen != expected:
        frame = await console.receive(timeout=5)
        assert frame["type"] == "conversation" and frame["kind"] == "message"
        seen.add(frame["conversation"]["id"])
    assert await console.communicator.receive_nothing(timeout=1)
    # 30 changes: the first read at once, the rest together at the end of the interval.
    assert 1 <= len(reads) <= 3
    assert set().union(*reads) == expected


async def test_a_hand_off_is_read_and_alerted_at_once_inside_the_interval(people: Any, settings: Any) -> None:
    from chatbot.conversations import events

    settings.CHATBOT_CONSOLE_INBOX_INTERVAL_S = 30
    site = people["site"]
    first, second, third = await database_sync_to_async(_conversations)(site, 3)
    _, console = await open_console(await _cookie(people["alex"]))
    events.publish_inbox(site_id=site.pk, conversation_id=first.pk, kind="message")
    assert (await console.receive(timeout=5))["conversation"]["id"] == first.pk  # the first change: at once
    events.publish_inbox(site_id=site.pk, conversation_id=second.pk, kind="message")
    assert await console.communicator.receive_nothing(timeout=1)  # held for the interval
    events.publish_inbox(site_id=site.pk, conversation_id=third.pk, kind="handoff")
    frames = await console.until(_is("notify"), timeout=5)
    assert frames[-1]["conversation"]["id"] == third.pk
    # What waited went out with it, each row once.
    assert sorted(f["conversation"]["id"] for f in frames if f["type"] == "conversation") == [second.pk, third.pk]
