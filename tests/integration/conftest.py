from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


@dataclass
class Client:
    """A protocol v1 client over a real socket."""

    connection: ClientConnection
    session: dict[str, Any]

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    async def ask(self, text: str, client_id: str | None = None) -> str:
        client_id = client_id or uuid.uuid4().hex
        await self.send({"type": "message", "client_id": client_id, "text": text})
        return client_id

    async def receive(self, timeout: float = 30) -> dict[str, Any]:
        import asyncio

        return dict(json.loads(await asyncio.wait_for(self.connection.recv(), timeout)))

    async def until(self, predicate: Any, timeout: float = 60) -> list[dict[str, Any]]:
        import asyncio

        frames: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                frames.append(await self.receive(timeout))
                if predicate(frames[-1]):
                    return frames

    async def nothing_within(self, seconds: float) -> bool:
        import asyncio

        try:
            frame = await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected frame {frame}")


async def open_client(ws_base: str, *, origin: str, site: str = "demo", token: str | None = None) -> Client:
    url = f"{ws_base}/ws/chat/?site={site}" + (f"&token={token}" if token else "")
    connection = await websockets.connect(url, origin=origin, open_timeout=20)  # type: ignore[arg-type]
    first = json.loads(await connection.recv())
    assert first["type"] == "session"
    return Client(connection, first)


def is_bot_message(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["sender"] == "bot"
