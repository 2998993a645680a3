"""The ordered, non-blocking publisher behind every realtime event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chatbot.conversations import events


class RecordingLayer:
    """A channel layer that records what it is sent, and can hold sends back to build a backlog."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gate = threading.Event()
        self.gate.set()

    async def group_send(self, group: str, event: dict[str, Any]) -> None:
        while not self.gate.is_set():
            import asyncio

            await asyncio.sleep(0.005)
        self.sent.append((group, event))


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingLayer]:
    recording = RecordingLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: recording)
    monkeypatch.setattr(events, "_background_loop", None)
    monkeypatch.setattr(events, "_publishers", {})
    yield recording
    events.shutdown_background_publisher()


def wait_until(predicate: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def token(reply_to: int, delta: str) -> dict[str, Any]:
    return {"type": "chat.token", "frame": {"type": "token", "reply_to": reply_to, "delta": delta}}


def test_events_are_sent_in_the_order_they_were_submitted_without_waiting(layer: RecordingLayer) -> None:
    submitted = [("g", {"type": "chat.status", "frame": {"n": n}}) for n in range(50)]
    started = time.perf_counter()
    for group, event in submitted:
        events.group_send(group, event)
    assert time.perf_counter() - started < 1.0
    wait_until(lambda: len(layer.sent) == 50)
    assert layer.sent == submitted


def test_a_backlog_of_tokens_of_one_reply_is_merged_without_losing_or_reordering_text(layer: RecordingLayer) -> None:
    layer.gate.clear()
    events.group_send("g", {"type": "chat.status", "frame": {"first": True}})
    time.sleep(0.05)  # the first send is now held at the gate; the rest queue up behind it
    words = [f"w{i} " for i in range(40)]
    for word in words[:20]:
        events.group_send("g", token(1, word))
    events.group_send("other", token(1, "elsewhere "))
    for word in words[20:]:
        events.group_send("g", token(1, word))
    events.group_send("g", token(2, "next reply "))
    events.group_send("g", {"type": "chat.message", "frame": {"seq": 2}})
    layer.gate.set()
    wait_until(lambda: layer.sent and layer.sent[-1][1]["type"] == "chat.message")

    tokens = [
        (group, e["frame"]["reply_to"], e["frame"]["delta"]) for group, e in layer.sent if e["type"] == "chat.token"
    ]
    assert "".join(d for g, r, d in tokens if g == "g" and r == 1) == "".join(words)
    assert len(tokens) < 42  # merged: fewer sends than tokens submitted
    assert [g for g, _, _ in tokens].index("other") > 0  # another group's token kept its place
    assert tokens[-1] == ("g", 2, "next reply ")


def test_shutting_down_flushes_what_is_still_queued(layer: RecordingLayer) -> None:
    layer.gate.clear()
    for n in range(10):
        events.group_send("g", {"type": "chat.status", "frame": {"n": n}})
    threading.Timer(0.1, layer.gate.set).start()
    events.shutdown_background_publisher()
    assert [e["frame"]["n"] for _, e in layer.sent] == list(range(10))


def test_a_layer_that_sends_batches_gets_what_queued_meanwhile_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    class BatchingLayer(RecordingLayer):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[int] = []

        async def group_send_many(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
            for group, event in batch:
                await self.group_send(group, event)
            self.batches.append(len(batch))

    batching = BatchingLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: batching)
    monkeypatch.setattr(events, "_background_loop", None)
    monkeypatch.setattr(events, "_publishers", {})
    try:
        batching.gate.clear()  # the first send waits: the rest queue up behind it
        submitted = [("g", {"type": "chat.status", "frame": {"n": n}}) for n in range(30)]
        for group, event in submitted:
            events.group_send(group, event)
        time.sleep(0.1)
        batching.gate.set()
        wait_until(lambda: len(batching.sent) == 30)
        assert batching.sent == submitted
        assert max(batching.batches) > 1 and sum(batching.batches) == 30
    finally:
        events.shutdown_background_publisher()
