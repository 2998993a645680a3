"""The broker's redelivery of a dead worker's task, at the level of kombu's Redis transport with
this project's transport options: a worker killed while it scanned for such tasks (it holds a lock
in Redis for the scan) keeps the others from handing tasks out again only for seconds."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis
from django.conf import settings
from kombu import Connection, Exchange, Queue
from kombu.transport.redis import Mutex

pytestmark = pytest.mark.integration


def test_a_worker_killed_mid_scan_delays_redelivery_by_seconds_not_minutes() -> None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    name = f"test-redelivery-{uuid.uuid4().hex[:8]}"
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 1}
    queue = Queue(name, Exchange(name), routing_key=name)
    client = redis.Redis.from_url(url)
    try:
        with Connection(url, transport_options=options) as dead, Connection(url, transport_options=options) as alive:
            dead_channel = dead.default_channel
            dead.Producer().publish({"task": "reply"}, exchange=queue.exchange, routing_key=name, declare=[queue])
            message = queue(dead_channel).get(no_ack=False)
            assert message is not None  # handed out, never acknowledged: its worker dies with it
            # ... and it died while scanning for tasks to hand out again, holding the scan's lock.
            qos = dead_channel.qos
            held = Mutex(dead_channel.client, qos.unacked_mutex_key, qos.unacked_mutex_expire)
            held.__enter__()  # never left: kept referenced, so not even garbage collection lets go
            assert client.exists(qos.unacked_mutex_key)

            alive_channel = alive.default_channel
            started = time.monotonic()
            while client.llen(name) == 0:  # the living worker's periodic scan, as its event loop runs it
                assert time.monotonic() - started < 30, "the task was not handed out again"
                alive_channel.qos.restore_visible(num=10, interval=1)
                time.sleep(0.5)
            assert time.monotonic() - started <= settings.CELERY_BROKER_TRANSPORT_OPTIONS["unacked_mutex_expire"] + 2
            assert queue(alive_channel).get(no_ack=True).payload == {"task": "reply"}
    finally:
        client.delete(name, "unacked_mutex", f"_kombu.binding.{name}")
