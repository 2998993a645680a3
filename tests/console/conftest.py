from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from chatbot.console.models import Operator, Role
from tests.support.websockets import APP, Widget


def make_operator(username: str, *, sites: list[Any], role: str = Role.OPERATOR, name: str = "") -> Operator:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    operator = Operator.objects.create(user=user, role=role, display_name=name or username.title())
    operator.sites.set(sites)
    return operator


class Console(Widget):
    """An operator's console socket, signed in with a real session cookie."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        super().__init__(communicator)
        self.hello: dict[str, Any] = {}
        self.inbox: list[dict[str, Any]] = []


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
