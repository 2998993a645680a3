"""The Redis channel layer's capacity is set on purpose, and overflowing it is logged, not silent.

A console or widget that stops reading (a frozen tab, a dead network) must not make Redis hold its
messages without bound: past `CHATBOT_CHANNEL_CAPACITY` messages per channel, the layer drops new
ones for that channel (clients recover them through `resume`) and says so in the log."""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


async def test_a_group_message_to_a_full_channel_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=f"test-capacity-{uuid.uuid4().hex[:8]}", capacity=3)
    reader = await layer.new_channel()
    await layer.group_add("slow-readers", reader)
    caplog.set_level(logging.INFO, logger="channels_redis")
    try:
        for number in range(5):
            await layer.group_send("slow-readers", {"type": "chat.message", "number": number})
        received: list[Any] = [await layer.receive(reader) for _ in range(3)]
        assert [m["number"] for m in received] == [0, 1, 2]  # the two beyond capacity were dropped
        overflow = [r for r in caplog.records if "over capacity" in r.getMessage()]
        assert len(overflow) == 2
        assert all(r.levelno >= logging.INFO for r in overflow)
    finally:
        await layer.flush()
        await layer.close_pools()


def test_the_logging_settings_keep_channel_layer_overflow_visible_whatever_the_log_level(settings: Any) -> None:
    """channels_redis logs the overflow at INFO: the settings keep that logger at INFO even when
    LOG_LEVEL quiets everything else."""
    assert settings.LOGGING["loggers"]["channels_redis"]["level"] == "INFO"
