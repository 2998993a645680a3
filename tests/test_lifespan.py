"""The web process's start and stop (chatbot/lifespan.py): the reply sweeper runs from start-up,
with no socket open, and stops at shutdown."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from chatbot.conversations import events
from chatbot.lifespan import lifespan_app
from chatbot.replies import sweeper


async def test_the_sweeper_starts_with_the_web_process_and_stops_with_it(settings: Any, monkeypatch: Any) -> None:
    settings.CHATBOT_REPLY_SWEEP_INTERVAL_S = 0.01
    settings.CHATBOT_DISPATCH = "inline"
    swept = threading.Event()
    monkeypatch.setattr(sweeper, "_sweep_logged", swept.set)
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = asyncio.create_task(lifespan_app({"type": "lifespan"}, received.get, send))
    await received.put({"type": "lifespan.startup"})
    await asyncio.wait_for(asyncio.to_thread(swept.wait, 10), 15)
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert events.server_loop() is asyncio.get_running_loop()

    await received.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(app, 10)
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
    assert sweeper._task is None
    swept.clear()
    await asyncio.sleep(0.1)
    assert not swept.is_set()  # stopped: no sweep after shutdown
