"""The REST API under test: a site, keys with chosen scopes, and the echo responder answering in
the storing request (no model loaded, replies deterministic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, TestCase

from chatbot.api_keys.services import api_key_create
from chatbot.replies import services as reply_services
from chatbot.sites.models import Site

ALL_SCOPES = "chat,knowledge,transcripts,usage,webhooks"


@pytest.fixture(autouse=True)
def echo_replies(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SECURE_SSL_REDIRECT = False
    settings.CHATBOT_RESPONDER = "echo"
    settings.CHATBOT_DISPATCH = "inline"
    settings.CHATBOT_STREAM_DELAY_MS = 0
    # The echo responder needs no FAQ index; building one would load the embedding model.
    monkeypatch.setattr(reply_services, "faq_index_get", lambda **_: None)


class Api:
    """A client that sends one API key (or none) with every request, JSON in and out."""

    def __init__(self, key: str | None) -> None:
        self.client = Client(HTTP_HOST="localhost")
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def _write(self, method: str, path: str, data: Any) -> Any:
        # Inside a test's transaction nothing commits: run what would run on commit (the reply,
        # the FAQ's re-embedding signal) as the request ends.
        with TestCase.captureOnCommitCallbacks(execute=True):
            return getattr(self.client, method)(f"/api/v1{path}", data, content_type="application/json", **self.headers)

    def post(self, path: str, data: Any = None) -> Any:
        return self._write("post", path, data)

    def put(self, path: str, data: Any) -> Any:
        return self._write("put", path, data)

    def patch(self, path: str, data: Any) -> Any:
        return self._write("patch", path, data)

    def delete(self, path: str) -> Any:
        return self._write("delete", path, None)


@pytest.fixture
def key_for(db: None) -> Callable[..., str]:
    def make(site: Site, scopes: str = ALL_SCOPES) -> str:
        return api_key_create(site=site, scopes=scopes, name="test")[1]

    return make


@pytest.fixture
def api(shop_site: Site, key_for: Callable[..., str]) -> Api:
    return Api(key_for(shop_site))


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return dict(body["error"])
