"""The product as `make run` runs it: one uvicorn process on SQLite, in-memory channel layer,
replies generated in-process by the same task code Celery runs."""

from __future__ import annotations

import gzip
import json
import urllib.request
from typing import Any

import pytest
import websockets

from tests.integration.conftest import is_bot_message, open_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def fetch(url: str) -> tuple[int, Any, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_the_embedded_server_generates_replies_in_process(embedded_server: Any) -> None:
    status, _, body = fetch(f"{embedded_server.http}/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "dispatch": "inprocess"}


def test_the_server_loads_its_model_at_start_up_not_on_the_first_question(embedded_server: Any) -> None:
    from tests.conftest import MODEL_LOADED

    log = embedded_server.process.log.read_text(errors="replace")
    assert MODEL_LOADED in log
    if "/ws/chat/" in log:
        assert log.index(MODEL_LOADED) < log.index("/ws/chat/")


def test_the_demo_page_embeds_the_widget_with_one_script_tag(embedded_server: Any) -> None:
    status, _, body = fetch(f"{embedded_server.http}/")
    page = body.decode()
    assert status == 200
    assert page.count("<script") == 1
    assert f'src="{embedded_server.http}/static/chatbot/widget.js" data-site-key="demo" async' in page


def test_the_widget_script_is_served_and_under_30_kb_gzipped(embedded_server: Any) -> None:
    status, headers, body = fetch(f"{embedded_server.http}/static/chatbot/widget.js")
    assert status == 200
    assert "javascript" in headers.get("Content-Type", "")
    assert len(gzip.compress(body, compresslevel=9)) <= 30 * 1024


async def test_the_demo_page_s_own_origin_can_chat_and_gets_a_cited_answer(embedded_server: Any) -> None:
    client = await open_client(embedded_server.ws, origin=embedded_server.http)
    await client.ask("do you deliver to Australia?")
    frames = await client.until(is_bot_message)
    await client.connection.close()
    assert frames[-1]["sources"][0]["question"] == "Do you ship outside the EU and UK?"
    assert any(f["type"] == "token" for f in frames)


async def test_an_origin_listed_in_chatbot_demo_origins_is_allowed_and_others_are_not(embedded_server: Any) -> None:
    allowed = await open_client(embedded_server.ws, origin=f"http://127.0.0.1:{embedded_server.host_page_port}")
    await allowed.connection.close()
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await open_client(embedded_server.ws, origin=f"http://127.0.0.1:{embedded_server.host_page_port + 1}")
