"""Fixed-window rate limits counted in Django's cache: the export API's per-token limit and the
widget's abuse limits (chatbot.conversations.limits) share this one counter.

The count lives in Django's cache, so a limit holds across processes when the cache is shared
(Redis, whenever `REDIS_URL` is set); with the default local-memory cache it holds per process.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache


def rate_limit_take(*, key: str, limit: int, window_s: int = 60) -> int | None:
    """Count one event against `key` in the current fixed window of `window_s` seconds. None
    when it is within `limit` (or `limit` is 0: no limit), else the seconds until the window ends
    (for Retry-After)."""
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // window_s)
    cache_key = f"ratelimit:{key}:{window}"
    cache.add(cache_key, 0, timeout=window_s * 2)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.set(cache_key, 1, timeout=window_s * 2)
        count = 1
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * window_s - now))
