"""Fixtures for the abuse tests: no bot replies (the model is not under test), counters in an empty
cache, a clock the tests set, and limits the tests choose. None is autouse: modules ask for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache

from chatbot.sites.models import Site


@pytest.fixture
def no_replies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Customer messages are stored and acked as always; nobody answers them."""
    queued: list[int] = []
    monkeypatch.setattr(
        "chatbot.replies.receivers.replies_dispatch", lambda waiting: queued.extend(m for m, _ in waiting)
    )
    monkeypatch.setattr("chatbot.sentiment.receivers.sentiment_dispatch", lambda message_id: None)
    return queued


@pytest.fixture
def empty_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The rate limiter's clock, 10 s into a minute window (so no window turns over mid-test)."""
    now = SimpleNamespace(value=1_000_030.0)
    monkeypatch.setattr("chatbot.ratelimit.time", SimpleNamespace(time=lambda: now.value))
    return now


@pytest.fixture
def limits(settings: Any) -> Callable[..., None]:
    """Set some abuse limits, e.g. `limits(messages={"visitor": 3})`; every other one is off."""

    def set_limits(**events: dict[str, int]) -> None:
        settings.CHATBOT_RATE_LIMITS = {
            event: {scope: events.get(event, {}).get(scope, 0) for scope in ("ip", "visitor", "site")}
            for event in ("connections", "messages", "conversations")
        }

    return set_limits


@pytest.fixture
def shop(db: None) -> Site:
    return Site.objects.create(key="demo", name="Shop", allowed_origins=["https://shop.example.com"])
