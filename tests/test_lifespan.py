"""The web process's start and stop (chatbot/lifespan.py): the reply sweeper runs from start-up,
with no socket open, and stops at shutdown."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

from chatbot import celery, lifespan
from chatbot.conversations import events
from chatbot.garbage_collector import garbage_collector_tune
from chatbot.lifespan import lifespan_app
from chatbot.replies import loading, sweeper


async def test_the_sweeper_starts_with_the_web_process_and_stops_with_it(settings: Any, monkeypatch: Any) -> None:
    settings.CHATBOT_REPLY_SWEEP_INTERVAL_S = 0.01
    settings.CHATBOT_DISPATCH = "inline"
    settings.CHATBOT_GC_THRESHOLDS = ()  # the test process's own collector is left as it is
    thresholds = gc.get_threshold()
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
    assert gc.get_threshold() == thresholds

    await received.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(app, 10)
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
    assert sweeper._task is None
    swept.clear()
    await asyncio.sleep(0.1)
    assert not swept.is_set()  # stopped: no sweep after shutdown


def test_the_web_process_freezes_its_start_up_objects_and_raises_the_collector_s_thresholds() -> None:
    thresholds = gc.get_threshold()
    try:
        garbage_collector_tune((20000, 50, 50))
        assert gc.get_threshold() == (20000, 50, 50)
        assert gc.get_freeze_count() > 1000  # the modules, classes and functions loaded so far
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_no_thresholds_leave_python_s_collector_as_it_is() -> None:
    thresholds = gc.get_threshold()
    garbage_collector_tune(())
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


async def test_the_web_process_start_applies_the_collector_setting(settings: Any) -> None:
    settings.CHATBOT_DISPATCH = "inline"
    settings.CHATBOT_GC_THRESHOLDS = (30000, 40, 40)
    thresholds = gc.get_threshold()
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        pass

    app = asyncio.create_task(lifespan_app({"type": "lifespan"}, received.get, send))
    try:
        await received.put({"type": "lifespan.startup"})
        for _ in range(100):
            if gc.get_threshold() != thresholds:
                break
            await asyncio.sleep(0.05)
        assert gc.get_threshold() == (30000, 40, 40)
        assert gc.get_freeze_count() > 0
    finally:
        await received.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(app, 10)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_celery_worker_tunes_its_collector_once_its_models_are_loaded(settings: Any, monkeypatch: Any) -> None:
    settings.CHATBOT_GC_THRESHOLDS = (30000, 40, 40)
    thresholds = gc.get_threshold()
    loaded: list[tuple[int, ...]] = []
    monkeypatch.setattr(loading, "models_warm_up", lambda: loaded.append(gc.get_threshold()))
    try:
        celery._load_models_once()
        assert loaded == [thresholds]  # the models first, then the collector
        assert gc.get_threshold() == (30000, 40, 40)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_a_web_process_that_answers_itself_tunes_its_collector_after_the_models_warm_up(
    settings: Any, monkeypatch: Any
) -> None:
    settings.CHATBOT_DISPATCH = "inprocess"
    settings.CHATBOT_GC_THRESHOLDS = (30000, 40, 40)
    thresholds = gc.get_threshold()
    warmed = threading.Event()
    seen: list[tuple[int, ...]] = []

    def warm_up() -> None:
        seen.append(gc.get_threshold())
        warmed.set()

    monkeypatch.setattr(loading, "models_warm_up", warm_up)
    monkeypatch.setattr(lifespan, "_webhooks_resume", lambda: None)
    monkeypatch.setattr(lifespan, "sweeper_start", lambda: None)
    try:
        lifespan.web_process_start()
        assert await asyncio.to_thread(warmed.wait, 10)
        for _ in range(100):
            if gc.get_threshold() == (30000, 40, 40):
                break
            await asyncio.sleep(0.02)
        assert seen == [thresholds]  # not tuned before the models were loaded
        assert gc.get_threshold() == (30000, 40, 40)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
