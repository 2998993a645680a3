"""Under ASGI (how the product is served) an export is sent block by block as it is read, not
gathered into a list first as Django does with a plain synchronous iterator."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.test import Client

from chatbot.console.models import Operator, Role
from chatbot.conversations.models import Conversation, Message, Sender, Visitor
from chatbot.exports.services import api_token_create
from chatbot.sites.models import Site
from tests.exports.conftest import body

CONVERSATIONS = 300


@pytest.fixture
def many_conversations(transactional_db: None) -> str:
    """300 conversations of 2 messages (about 150 KB of JSON Lines); returns an admin's API token."""
    from django.contrib.auth import get_user_model

    site = Site.objects.create(key="bulk", name="Bulk")
    visitor = Visitor.objects.create(site=site)
    conversations = Conversation.objects.bulk_create(
        [Conversation(site=site, visitor=visitor, last_seq=2) for _ in range(CONVERSATIONS)]
    )
    Message.objects.bulk_create(
        Message(conversation=c, seq=seq, sender=sender, text=f"message {seq} of conversation {c.pk} " + "x" * 200)
        for c in conversations
        for seq, sender in ((1, Sender.CUSTOMER), (2, Sender.BOT))
    )
    user = get_user_model().objects.create_user("bulk-admin")
    Operator.objects.create(user=user, role=Role.ADMIN)
    return api_token_create(user=user, name="bulk")[1]


async def asgi_get(path: str, token: str) -> tuple[int, dict[str, str], list[bytes]]:
    """GET `path` through Django's ASGI handler; the status, headers and each body message."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    requested = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ASGIHandler()(scope, receive, send)
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, [m.get("body", b"") for m in sent[1:] if m.get("body")]


@pytest.mark.django_db(transaction=True)
async def test_an_export_served_over_asgi_is_sent_in_blocks_as_it_is_read(
    many_conversations: str, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, blocks = await asgi_get("/api/v1/exports/messages.jsonl", many_conversations)
    assert status == 200
    assert headers["content-type"] == "application/x-ndjson; charset=utf-8"
    # Django's fallback for a synchronous iterator reads it whole into a list, and says so.
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    assert len(blocks) >= 2
    streamed = b"".join(blocks).decode()
    assert streamed.count("\n") == 2 * CONVERSATIONS

    def over_wsgi() -> str:
        try:
            return body(
                Client().get("/api/v1/exports/messages.jsonl", HTTP_AUTHORIZATION=f"Bearer {many_conversations}")
            )
        finally:
            connections.close_all()  # this worker thread's connection would keep the test database open

    assert streamed == await sync_to_async(over_wsgi)()
