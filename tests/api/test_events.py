"""The SSE stream of a conversation: stored messages after the client's last event id from the
database, then live frames; a client that reconnects with Last-Event-ID misses none and gets none
twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient

from chatbot.conversations import events
from chatbot.sites.models import Site
from intents.echo import ECHO_TEXT, ECHO_TOKENS
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_thread_connections() -> AsyncIterator[None]:
    """ORM calls from this async test run on asgiref's shared thread: close its connection after,
    or the test database cannot be dropped at the end of the session."""
    yield
    await sync_to_async(connections.close_all)()


class Stream:
    """Reads an event stream's events ({"id", "event", "data"}) as they come."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = ""

    async def next_event(self, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            if "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                fields: dict[str, Any] = {}
                for line in block.splitlines():
                    name, _, value = line.partition(": ")
                    if name in ("id", "event", "data"):
                        fields[name] = json.loads(value) if name == "data" else value
                if "event" in fields:
                    return fields
                continue  # retry: and keep-alive comments
            chunk = await asyncio.wait_for(anext(self.chunks), timeout)
            self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk

    async def events_until(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        seen = [await self.next_event()]
        while not predicate(seen[-1]):
            seen.append(await self.next_event())
        return seen


async def open_stream(key: str, cid: int, **headers: str) -> tuple[Any, Stream]:
    client = AsyncClient(HTTP_HOST="localhost")
    response = await client.get(
        f"/api/v1/conversations/{cid}/events", headers={"Authorization": f"Bearer {key}", **headers}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    return response, Stream(aiter(response.streaming_content))


def messages(seen: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(int(e["id"]), e["data"]["sender"]) for e in seen if e["event"] == "message"]


async def test_a_stream_resumes_after_last_event_id_then_carries_live_tokens_and_messages(
    shop_site: Site, key_for: Callable[..., str]
) -> None:
    events.bind_server_loop(asyncio.get_running_loop())  # the in-memory layer publishes on this loop
    key = await sync_to_async(key_for)(shop_site)
    api = Api(key)
    cid = (await sync_to_async(api.post)("/conversations")).json()["id"]
    await sync_to_async(api.post)(f"/conversations/{cid}/messages", {"client_id": "m1", "text": "First"})  # seq 1, 2

    response, stream = await open_stream(key, cid, **{"Last-Event-ID": "1"})
    status = await stream.next_event()
    assert status["event"] == "status" and status["data"]["status"] == "bot"
    replayed = await stream.next_event()
    assert (replayed["id"], replayed["event"], replayed["data"]["text"]) == ("2", "message", ECHO_TEXT)

    await sync_to_async(api.post)(f"/conversations/{cid}/messages", {"client_id": "m2", "text": "Second"})
    live = await stream.events_until(lambda e: e["event"] == "message" and e["data"]["sender"] == "bot")
    assert messages(live) == [(3, "customer"), (4, "bot")]
    tokens = "".join(e["data"]["delta"] for e in live if e["event"] == "token")
    assert tokens == "".join(ECHO_TOKENS)
    assert all(e["data"]["reply_to"] == 3 for e in live if e["event"] == "token")
    await response.streaming_content.aclose()

    # Dropped after seq 3: the reconnect gets 4 and nothing earlier.
    response, stream = await open_stream(key, cid, **{"Last-Event-ID": "3"})
    assert (await stream.next_event())["event"] == "status"
    resumed = await stream.next_event()
    assert (resumed["id"], resumed["data"]["sender"]) == ("4", "bot")
    await sync_to_async(api.post)(f"/conversations/{cid}/handoff")
    after = await stream.events_until(lambda e: e["event"] == "status")
    assert after[-1]["data"]["status"] == "waiting_human"
    await response.streaming_content.aclose()


async def test_after_seq_starts_a_stream_from_that_seq(shop_site: Site, key_for: Callable[..., str]) -> None:
    events.bind_server_loop(asyncio.get_running_loop())
    key = await sync_to_async(key_for)(shop_site)
    api = Api(key)
    cid = (await sync_to_async(api.post)("/conversations")).json()["id"]
    await sync_to_async(api.post)(f"/conversations/{cid}/messages", {"client_id": "m1", "text": "First"})
    client = AsyncClient(HTTP_HOST="localhost")
    response = await client.get(
        f"/api/v1/conversations/{cid}/events", {"after_seq": 0}, headers={"Authorization": f"Bearer {key}"}
    )
    stream = Stream(aiter(response.streaming_content))
    seen = await stream.events_until(lambda e: e["event"] == "message" and e["data"]["seq"] == 2)
    assert messages(seen) == [(1, "customer"), (2, "bot")]
    await response.streaming_content.aclose()
