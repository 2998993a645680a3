"""One visitor's data, exported or erased on request, from the console and the command line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client

from chatbot.console.models import Note
from chatbot.conversations.models import ContactRequest, Conversation, Message, Visitor
from chatbot.exports.services import visitor_data_erase, visitor_erasing
from tests.exports.conftest import Seed, body

VISITOR = "/console/exports/visitor/"


def held_by(visitor: Visitor) -> dict[str, int]:
    """How many rows of each kind belong to `visitor`."""
    return {
        "visitors": Visitor.objects.filter(pk=visitor.pk).count(),
        "conversations": Conversation.objects.filter(visitor_id=visitor.pk).count(),
        "messages": Message.objects.filter(conversation__visitor_id=visitor.pk).count(),
        "contact_requests": ContactRequest.objects.filter(conversation__visitor_id=visitor.pk).count(),
        "notes": Note.objects.filter(conversation__visitor_id=visitor.pk).count(),
    }


NOTHING = {"visitors": 0, "conversations": 0, "messages": 0, "contact_requests": 0, "notes": 0}


@pytest.fixture
def admin_client(seed: Seed, signed_in: Callable[[Any], Client]) -> Client:
    return signed_in(seed.admin)


def test_a_visitors_export_holds_their_conversations_messages_contact_requests_and_notes(
    seed: Seed, admin_client: Client
) -> None:
    response = admin_client.post(VISITOR, {"visitor": str(seed.jane.public_id), "action": "export"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="visitor-{seed.jane.public_id}-')
    data = json.loads(response.content)
    assert data["visitor"]["id"] == str(seed.jane.public_id)
    assert data["visitor"]["site"] == "shop"
    [conversation] = data["conversations"]
    assert conversation["id"] == seed.returns.pk
    assert conversation["status"] == "closed"
    assert conversation["assignee"] == "Olivia"
    assert conversation["csat"] == 5
    assert conversation["page_url"] == "https://shop.example.com/returns?email=jane@example.com"
    assert [(m["seq"], m["sender"], m["text"]) for m in conversation["messages"]] == [
        (m.seq, m.sender, m.text) for m in (seed.messages[k] for k in ("r1", "r2", "r3", "r4", "r5", "r6"))
    ]
    assert conversation["messages"][1]["decision_reason"] == "FAQ match 0.82 >= 0.45"
    assert (conversation["complaint_category"], conversation["complaint_severity"]) == ("other", "low")
    assert [(m["complaint_category"], m["complaint_severity"]) for m in conversation["messages"]][:3] == [
        (None, None),
        (None, None),
        ("other", "low"),
    ]
    assert [(c["email"], c["text"]) for c in conversation["contact_requests"]] == [
        ("jane@example.com", "Please call me back")
    ]
    assert [(n["author_name"], n["text"]) for n in conversation["notes"]] == [("Olivia", "Repeat customer")]
    # Nobody else's data.
    text = response.content.decode()
    assert "LL-2024-000123" not in text and "Angry about delays" not in text


def test_erasing_a_visitor_removes_all_their_data_and_keeps_everyone_elses(seed: Seed, admin_client: Client) -> None:
    jane_before = held_by(seed.jane)
    assert jane_before == {"visitors": 1, "conversations": 1, "messages": 6, "contact_requests": 1, "notes": 1}
    sam_before, omar_before = held_by(seed.sam), held_by(seed.omar)

    response = admin_client.post(
        VISITOR, {"visitor": str(seed.jane.public_id), "action": "erase", "confirm": "ERASE"}, follow=True
    )
    assert response.status_code == 200
    assert b"Erased the visitor&#x27;s data: 1 conversations, 6 messages, 1 contact requests, 1 notes." in (
        response.content
    )
    assert held_by(seed.jane) == NOTHING
    assert held_by(seed.sam) == sam_before
    assert held_by(seed.omar) == omar_before
    assert not ContactRequest.objects.filter(email="jane@example.com").exists()

    # Nor do exports hold anything of hers afterwards.
    everything = body(admin_client.get("/console/exports/download/", {"format": "messages.jsonl"}))
    assert "jane@example.com" not in everything and str(seed.jane.public_id) not in everything
    assert "LL-2024-000123" in everything


def test_erasure_also_removes_the_admin_change_log_about_the_visitors_records(seed: Seed) -> None:
    contact = ContactRequest.objects.get(conversation=seed.returns)
    for obj in (contact, seed.messages["r1"], seed.order):
        LogEntry.objects.log_actions(
            user_id=seed.admin.pk, queryset=type(obj).objects.filter(pk=obj.pk), action_flag=CHANGE
        )
    assert LogEntry.objects.filter(object_repr__contains="jane@example.com").exists()

    visitor_data_erase(visitor=seed.jane)

    assert not LogEntry.objects.filter(object_repr__contains="jane@example.com").exists()
    assert not LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Message), object_id=str(seed.messages["r1"].pk)
    ).exists()
    # The log about sam's conversation stays.
    assert LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Conversation), object_id=str(seed.order.pk)
    ).exists()


@pytest.fixture
def erasing_receiver() -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    visitor_erasing.connect(receiver)
    yield calls
    visitor_erasing.disconnect(receiver)


def test_stores_of_derived_copies_are_told_which_messages_to_delete(
    seed: Seed, erasing_receiver: list[dict[str, Any]]
) -> None:
    jane_messages = sorted(seed.messages[k].pk for k in ("r1", "r2", "r3", "r4", "r5", "r6"))
    visitor_data_erase(visitor=seed.jane)
    [call] = erasing_receiver
    assert call["visitor"].public_id == seed.jane.public_id
    assert call["conversation_ids"] == [seed.returns.pk]
    assert sorted(call["message_ids"]) == jane_messages


def test_a_failing_derived_store_leaves_nothing_half_erased(seed: Seed) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("training-data store unavailable")

    visitor_erasing.connect(broken)
    try:
        with pytest.raises(RuntimeError):
            visitor_data_erase(visitor=seed.jane)
    finally:
        visitor_erasing.disconnect(broken)
    assert held_by(seed.jane)["messages"] == 6


def test_the_erasure_is_logged_without_personal_data(
    seed: Seed, admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="chatbot.exports"):
        admin_client.post(VISITOR, {"visitor": str(seed.jane.public_id), "action": "erase", "confirm": "ERASE"})
    [record] = [r for r in caplog.records if "erased" in r.getMessage()]
    line = record.getMessage()
    assert "conversations=1 messages=6 contact_requests=1 notes=1" in line
    assert f"user #{seed.admin.pk}" in line
    for personal in ("jane@example.com", str(seed.jane.public_id), "return shoes", "Please call me back"):
        assert personal not in caplog.text


def test_erasure_needs_the_typed_confirmation(seed: Seed, admin_client: Client) -> None:
    for confirm in ("", "erase", "yes"):
        response = admin_client.post(
            VISITOR, {"visitor": str(seed.jane.public_id), "action": "erase", "confirm": confirm}
        )
        assert response.status_code == 400
        assert b"Type ERASE to confirm the erasure." in response.content
    assert held_by(seed.jane)["messages"] == 6


@pytest.mark.parametrize("visitor", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_visitor_is_reported(seed: Seed, admin_client: Client, visitor: str) -> None:
    response = admin_client.post(VISITOR, {"visitor": visitor, "action": "export"})
    assert response.status_code in (400, 404)
    assert b"visitor" in response.content.lower()


def test_operators_cannot_make_visitor_requests(seed: Seed, signed_in: Callable[[Any], Client]) -> None:
    client = signed_in(seed.olivia)
    for action, extra in (("export", {}), ("erase", {"confirm": "ERASE"})):
        response = client.post(VISITOR, {"visitor": str(seed.jane.public_id), "action": action, **extra})
        assert response.status_code == 403
    assert held_by(seed.jane)["messages"] == 6


def test_the_command_exports_a_visitors_data_as_json(seed: Seed) -> None:
    out = io.StringIO()
    call_command("visitor_data", "export", str(seed.jane.public_id), stdout=out)
    data = json.loads(out.getvalue())
    assert data["visitor"]["id"] == str(seed.jane.public_id)
    assert len(data["conversations"][0]["messages"]) == 6


def test_the_command_erases_a_visitors_data(seed: Seed) -> None:
    out = io.StringIO()
    call_command("visitor_data", "erase", str(seed.jane.public_id), "--no-input", stdout=out)
    assert "Erased: 1 conversations, 6 messages, 1 contact requests, 1 notes." in out.getvalue()
    assert held_by(seed.jane) == NOTHING
    assert held_by(seed.sam)["messages"] == 2


def test_the_command_refuses_an_unknown_visitor(seed: Seed) -> None:
    with pytest.raises(CommandError, match="No visitor"):
        call_command("visitor_data", "erase", "00000000-0000-0000-0000-000000000000", "--no-input")


def test_the_command_asks_before_erasing(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Nothing erased"):
        call_command("visitor_data", "erase", str(seed.jane.public_id))
    assert held_by(seed.jane)["messages"] == 6
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    call_command("visitor_data", "erase", str(seed.jane.public_id), stdout=io.StringIO())
    assert held_by(seed.jane) == NOTHING
