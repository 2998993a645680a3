from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import Process, base_env, free_port

RECEIVER = Path(__file__).with_name("receiver.py")


@dataclass
class Receiver:
    """A receiver process; `requests()` are the requests it got, in order."""

    url: str
    port: int
    log: Path
    process: Process

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture
def start_receiver(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Start receiver processes: `start_receiver("500,500,200")`."""
    started: list[Process] = []

    def start(statuses: str = "200") -> Receiver:
        port = free_port()
        log = tmp_path / f"received-{port}.jsonl"
        process = Process(
            f"receiver-{port}", [sys.executable, str(RECEIVER), str(port), statuses, str(log)], base_env()
        ).start()
        started.append(process)
        process.wait_for("listening", timeout=20)
        return Receiver(url=f"http://127.0.0.1:{port}/hooks", port=port, log=log, process=process)

    yield start
    for process in started:
        process.stop()


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> None:
    """Deliveries may go to this machine (the receivers); the first attempt runs inline and retries
    when the test runs the due sweep; no real waiting between attempts."""
    settings.CHATBOT_DISPATCH = "inline"
    settings.CHATBOT_WEBHOOKS_ALLOW_PRIVATE = True
    settings.CHATBOT_WEBHOOK_RETRY_BASE_S = 0.01
    settings.CHATBOT_WEBHOOK_RETRY_MAX_S = 0.05
    settings.CHATBOT_WEBHOOK_TIMEOUT_S = 5.0
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
