"""Websocket test clients over Channels' communicator (no server process)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import quote

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chatbot.routing import websocket_urlpatterns

ORIGIN = "https://shop.example.com"
APP = URLRouter(websocket_urlpatterns)


class Widget:
    """A test client speaking protocol v1."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.session: dict[str, Any] = {}

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def until(self, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
        """Frames received up to and including the first one matching `predicate`."""
        frames: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive(timeout)
                frames.append(frame)
                if predicate(frame):
                    return frames

    async def ask(self, text: str, client_id: str | None = None) -> str:
        client_id = client_id or uuid.uuid4().hex
        await self.send({"type": "message", "client_id": client_id, "text": text})
        return client_id

    async def close(self) -> None:
        await self.communicator.disconnect()


async def connect(
    site: str = "demo", origin: str | None = ORIGIN, token: str | None = None, client: str | None = None
) -> tuple[bool, Any]:
    """Open a widget connection. `client`: the address the server sees (Channels' communicator
    gives none, so per-IP limits count nothing unless a test says)."""
    path = f"/ws/chat/?site={site}" + (f"&token={quote(token)}" if token else "")
    headers = [(b"host", b"chat.example.net")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(APP, path, headers=headers)
    if client is not None:
        communicator.scope["client"] = (client, 50000)
    connected, code = await communicator.connect(timeout=10)
    if not connected:
        return False, code
    widget = Widget(communicator)
    widget.session = await widget.receive()
    return True, widget
