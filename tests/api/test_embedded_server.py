"""The API against the product as `make run` runs it (one uvicorn process, SQLite, in-memory
channel layer, replies in-process): a key made by the command, a conversation answered by the real
demo FAQ, the SSE stream with live tokens, resumed after a drop."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.processes import manage

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sse_events(response: httpx.Response, until: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "event" in current:
                events.append(current)
                if until(current):
                    return events
            current = {}
            continue
        name, _, value = line.partition(": ")
        if name in ("id", "event"):
            current[name] = value
        elif name == "data":
            current["data"] = json.loads(value)
    return events


def test_the_api_chats_streams_and_resumes_on_the_embedded_server(embedded_server: Any) -> None:
    output = manage("api_keys", "create", "--site", "demo", "--scopes", "chat,usage", env=embedded_server.env)
    api = httpx.Client(
        base_url=f"{embedded_server.http}/api/v1",
        headers={"Authorization": f"Bearer {output.split()[-1]}"},
        timeout=httpx.Timeout(60, connect=10),
    )
    assert api.get("/openapi.json").json()["openapi"].startswith("3.")
    cid = api.post("/conversations", json={}).json()["id"]

    with api.stream("GET", f"/conversations/{cid}/events") as stream:
        sent = api.post(f"/conversations/{cid}/messages", json={"client_id": "e1", "text": "How much is postage?"})
        assert sent.status_code == 202 and sent.json()["seq"] == 1
        seen = sse_events(stream, lambda e: e["event"] == "message" and e["data"]["sender"] == "bot")
    assert [e["data"]["seq"] for e in seen if e["event"] == "message"] == [1, 2]
    assert any(e["event"] == "token" for e in seen)
    reply = seen[-1]["data"]
    assert reply["decision"] == "answer" and reply["sources"]

    # Dropped after the customer's message: the reconnect replays the reply from the database.
    with api.stream("GET", f"/conversations/{cid}/events", headers={"Last-Event-ID": "1"}) as stream:
        resumed = sse_events(stream, lambda e: e["event"] == "message")
    assert [(e["id"], e["data"]["sender"]) for e in resumed if e["event"] == "message"] == [("2", "bot")]
    assert api.get("/usage").json()["days"][-1]["bot_answers"] >= 1
