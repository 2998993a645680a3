from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from chatbot.console.models import Operator, Role
from tests.support.websockets import APP


def make_operator(username: str, *, sites: list[Any], role: str = Role.OPERATOR, name: str = "") -> Operator:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    operator = Operator.objects.create(user=user, role=role, display_name=name or username.title())
    operator.sites.set(sites)
    return operator


class Console:
    """An operator's console socket, signed in with a real session cookie."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.hello: dict[str, Any] = {}
        self.inbox: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        import json

        await self.communicator.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        import json

        return dict(json.loads(await self.communicator.receive_from(timeout=timeout)))

    async def until(self, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
        import asyncio

        frames: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                frames.append(await self.receive(timeout))
                if predicate(frames[-1]):
                    return frames

    async def close(self) -> None:
        await self.communicator.disconnect()


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def open_console(
    cookie: str | None, *, origin: str = "http://desk.example.net", host: str = "desk.example.net"
) -> tuple[bool, Any]:
    headers = [(b"host", host.encode()), (b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(APP, "/ws/console/", headers=headers)
    connected, code = await communicator.connect(timeout=10)
    if not connected:
        return False, code
    console = Console(communicator)
    console.hello = await console.receive()
    console.inbox = (await console.receive())["conversations"]
    return True, console


@pytest.fixture
def console_settings(settings: Any) -> Any:
    settings.ALLOWED_HOSTS = ["desk.example.net", "chat.example.net", "testserver", "localhost"]
    settings.CHATBOT_DISPATCH = "inprocess"
    return settings


@pytest.fixture(autouse=True)
def plain_http(settings: Any) -> None:
    """The test client speaks plain HTTP; production settings would redirect it to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False
