"""One reply task at a time per conversation, across every worker process.

With REDIS_URL set the lock is a Redis key with an expiry (redis-py's `Lock`: only its owner can
release or extend it), so a worker killed while holding it blocks the conversation for at most
CHATBOT_REPLY_LOCK_TTL_S after its last sign of life. Without Redis (the embedded demo: one
process) it is a lock of this process.

Taking the lock never waits: a task that finds it held leaves its message to the holder, which
answers every waiting message of the conversation before it lets go, and looks once more after
letting go (`replies.reply_generate`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import redis
from django.conf import settings
from redis.exceptions import LockError

logger = logging.getLogger(__name__)


class HeldLock(Protocol):
    def keep_alive(self) -> None:
        """Tell the lock its holder is still working (extends its expiry); cheap to call often."""


class _ProcessLock:
    def keep_alive(self) -> None:
        pass


_process_locks: dict[int, threading.Lock] = {}
_process_guard = threading.Lock()


@contextmanager
def _process_lock(conversation_id: int) -> Iterator[HeldLock | None]:
    with _process_guard:
        lock = _process_locks.setdefault(conversation_id, threading.Lock())
    if not lock.acquire(blocking=False):
        yield None
        return
    try:
        yield _ProcessLock()
    finally:
        lock.release()
        with _process_guard:
            if not lock.locked():
                _process_locks.pop(conversation_id, None)


class _RedisLock:
    def __init__(self, lock: object, ttl: float) -> None:
        self.lock = lock
        self.ttl = ttl
        self.renewed = time.monotonic()

    def keep_alive(self) -> None:
        # Renewed at a third of its life: often enough that a live holder never loses it, rarely
        # enough that a streamed reply costs no Redis round trip per token.
        now = time.monotonic()
        if now - self.renewed >= self.ttl / 3:
            self.lock.reacquire()  # type: ignore[attr-defined]
            self.renewed = now


_redis_client: object | None = None


def _redis() -> object:
    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    return _redis_client


@contextmanager
def _redis_lock(conversation_id: int) -> Iterator[HeldLock | None]:
    ttl = settings.CHATBOT_REPLY_LOCK_TTL_S
    lock = _redis().lock(  # type: ignore[attr-defined]
        f"{settings.CHATBOT_CHANNEL_PREFIX}:reply-lock:{conversation_id}", timeout=ttl, blocking=False
    )
    if not lock.acquire():
        yield None
        return
    try:
        yield _RedisLock(lock, ttl)
    finally:
        try:
            lock.release()
        except LockError:
            # It expired while held (the holder stalled longer than the TTL); another run may own it now.
            logger.warning("the reply lock of conversation %s had expired before it was released", conversation_id)


@contextmanager
def conversation_reply_lock(conversation_id: int) -> Iterator[HeldLock | None]:
    """Yields a held lock, or None when another run holds it (it then answers for this one)."""
    manager = _redis_lock if settings.REDIS_URL else _process_lock
    with manager(conversation_id) as held:
        yield held
