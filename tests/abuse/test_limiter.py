"""The fixed-window limiter (chatbot.ratelimit) and how the widget's limits count addresses."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest
from django.test import override_settings

from chatbot.conversations.limits import client_address
from chatbot.ratelimit import rate_limit_take

pytestmark = [pytest.mark.usefixtures("empty_cache")]


@pytest.mark.parametrize(
    ("client", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_ipv6_clients_are_counted_per_64_block(client: str, counted_as: str) -> None:
    assert client_address({"client": (client, 1234)}) == counted_as
    assert client_address({}) is None


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_the_limiter_counts_in_djangos_cache_including_redis(backend: str, clock: SimpleNamespace) -> None:
    """Redis is the production cache: INCR there is what keeps the count shared by web processes."""
    cache_settings = {
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
            # Other tests share this Redis database: a key prefix of its own, never a flush.
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        },
    }[backend]
    with override_settings(CACHES={"default": cache_settings}):
        assert [rate_limit_take(key="k", limit=2) for _ in range(3)] == [None, None, 50]
        assert rate_limit_take(key="other", limit=2) is None
        assert rate_limit_take(key="k", limit=0) is None  # 0: no limit
        clock.value += 50  # the next window
        assert rate_limit_take(key="k", limit=2) is None
