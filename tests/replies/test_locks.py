"""The per-conversation reply lock, on a real Redis (as the workers use it) and in-process."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chatbot.replies import locks
from chatbot.replies.locks import conversation_reply_lock


@pytest.fixture(params=["redis", "process"])
def lock_backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    settings.REDIS_URL = (
        os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14") if request.param == "redis" else ""
    )
    settings.CHATBOT_CHANNEL_PREFIX = f"test-{uuid.uuid4().hex[:8]}"
    locks._redis_client = None
    yield request.param
    locks._redis_client = None


def test_a_second_run_does_not_get_a_conversation_another_run_holds(lock_backend: str) -> None:
    with conversation_reply_lock(7) as first:
        assert first is not None
        with conversation_reply_lock(7) as second:
            assert second is None
        with conversation_reply_lock(8) as other_conversation:
            assert other_conversation is not None
    with conversation_reply_lock(7) as after_release:
        assert after_release is not None


@pytest.fixture
def short_redis_lock(settings: Any) -> Iterator[None]:
    """Redis locks that expire 0.6 s after their holder's last sign of life."""
    settings.REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    settings.CHATBOT_CHANNEL_PREFIX = f"test-{uuid.uuid4().hex[:8]}"
    settings.CHATBOT_REPLY_LOCK_TTL_S = 0.6
    locks._redis_client = None
    yield
    locks._redis_client = None


def test_the_lock_of_a_holder_that_died_frees_itself_after_its_ttl(short_redis_lock: None) -> None:
    abandoned = conversation_reply_lock(9)
    assert abandoned.__enter__() is not None  # a worker killed: never released
    with conversation_reply_lock(9) as meanwhile:
        assert meanwhile is None
    time.sleep(0.8)
    with conversation_reply_lock(9) as later:
        assert later is not None


def test_a_holder_that_keeps_working_keeps_its_lock_past_the_ttl(short_redis_lock: None) -> None:
    with conversation_reply_lock(10) as held:
        assert held is not None
        for _ in range(8):  # 1.2 s of streaming, twice the TTL
            time.sleep(0.15)
            held.keep_alive()
        with conversation_reply_lock(10) as intruder:
            assert intruder is None
