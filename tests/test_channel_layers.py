"""The Redis channel layer leaves out the member a group event names as its origin, against the
real Redis; the settings configure it so that opening a connection reads no package metadata."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from typing import Any

from chatbot.channel_layers import SKIP_CHANNEL, SkippingRedisChannelLayer
from tests.processes import ROOT, base_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def layer() -> SkippingRedisChannelLayer:
    return SkippingRedisChannelLayer(hosts=[REDIS_URL], prefix=f"test-skip-{uuid.uuid4().hex[:8]}")


async def nothing_arrives(channels: SkippingRedisChannelLayer, channel: str) -> bool:
    try:
        await asyncio.wait_for(channels.receive(channel), timeout=0.3)
    except TimeoutError:
        return True
    return False


async def test_a_group_event_reaches_every_member_but_the_one_it_skips() -> None:
    channels = layer()
    sender, other_tab = await channels.new_channel(), await channels.new_channel()
    await channels.group_add("conversation", sender)
    await channels.group_add("conversation", other_tab)
    try:
        await channels.group_send("conversation", {"type": "chat.message", "seq": 1, SKIP_CHANNEL: sender})
        assert await channels.receive(other_tab) == {"type": "chat.message", "seq": 1}
        assert await nothing_arrives(channels, sender)
        # Without the key every member gets the event, the sender too.
        await channels.group_send("conversation", {"type": "chat.message", "seq": 2})
        assert (await channels.receive(sender))["seq"] == 2
        assert (await channels.receive(other_tab))["seq"] == 2
    finally:
        await channels.flush()


async def test_an_event_whose_group_holds_only_the_skipped_member_is_written_nowhere() -> None:
    channels = layer()
    sender = await channels.new_channel()
    await channels.group_add("conversation", sender)
    try:
        await channels.group_send("conversation", {"type": "chat.message", "seq": 1, SKIP_CHANNEL: sender})
        connection = channels.connection(0)
        assert await connection.keys(f"{channels.prefix}*") == [channels._group_key("conversation")]
        assert await nothing_arrives(channels, sender)
    finally:
        await channels.flush()


async def test_a_channel_joined_from_a_thread_without_a_loop_gets_the_groups_events_as_if_it_had_joined() -> None:
    channels = layer()
    joined, other_tab = await channels.new_channel(), await channels.new_channel()
    await channels.group_add("conversation", other_tab)
    try:
        assert await asyncio.to_thread(channels.groups_join_blocking, [("conversation", joined), ("other", joined)])
        connection = channels.connection(0)
        assert sorted(await connection.zrange(channels._group_key("conversation"), 0, -1)) == sorted(
            [joined.encode(), other_tab.encode()]
        )
        assert 0 < await connection.ttl(channels._group_key("other")) <= channels.group_expiry
        await channels.group_send("conversation", {"type": "chat.message", "seq": 1, SKIP_CHANNEL: other_tab})
        assert await channels.receive(joined) == {"type": "chat.message", "seq": 1}
        await channels.group_discard("conversation", joined)
        assert await connection.zrange(channels._group_key("conversation"), 0, -1) == [other_tab.encode()]
    finally:
        await channels.flush()


def test_a_layer_sharded_over_several_servers_does_not_join_from_a_thread() -> None:
    sharded = SkippingRedisChannelLayer(hosts=[REDIS_URL, REDIS_URL], prefix=f"test-skip-{uuid.uuid4().hex[:8]}")
    assert sharded.groups_join_blocking([("conversation", "specific.abc!def")]) is False


def test_the_configured_layer_skips_and_opens_connections_without_reading_package_metadata() -> None:
    """redis-py reads its package metadata for each connection it opens unless told its version
    (0.35 ms each; a web process opens hundreds when its first sockets join their groups)."""
    code = """
import asyncio, django
django.setup()
import redis.utils
reads = []
real = redis.utils.get_lib_version
redis.utils.get_lib_version = lambda: reads.append(1) or real()
from channels.layers import get_channel_layer

async def main():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await asyncio.gather(*(layer.group_add(f"probe-{n}", channel) for n in range(20)))
    await asyncio.gather(*(layer.group_discard(f"probe-{n}", channel) for n in range(20)))
    print(type(layer).__name__, len(reads))

asyncio.run(main())
"""
    env = base_env(REDIS_URL=REDIS_URL, CHATBOT_CHANNEL_PREFIX=f"test-metadata-{uuid.uuid4().hex[:8]}")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SkippingRedisChannelLayer", "0"]


async def test_a_batch_of_group_events_reaches_each_groups_members_in_order_in_two_round_trips() -> None:
    channels = layer()
    sender, other_tab, console = [await channels.new_channel() for _ in range(3)]
    for group, channel in (("conversation", sender), ("conversation", other_tab), ("inbox", console)):
        await channels.group_add(group, channel)
    batch = [
        ("conversation", {"type": "chat.message", "seq": 1, SKIP_CHANNEL: sender}),
        ("inbox", {"type": "inbox.changed", "seq": 1}),
        ("nobody", {"type": "chat.message", "seq": 9}),
        ("conversation", {"type": "chat.message", "seq": 2}),
        ("inbox", {"type": "inbox.changed", "seq": 2}),
    ]
    executed: list[int] = []
    pipeline = channels.connection(0).pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        async def counted(*a: Any, **k: Any) -> Any:
            executed.append(len(pipe.command_stack))
            return await execute(*a, **k)

        pipe.execute = counted
        return pipe

    connection = channels.connection(0)
    connection.pipeline = counting_pipeline  # type: ignore[method-assign]
    try:
        await channels.group_send_many(batch)
        assert [(await channels.receive(other_tab))["seq"] for _ in range(2)] == [1, 2]
        assert [(await channels.receive(console))["seq"] for _ in range(2)] == [1, 2]
        assert (await channels.receive(sender))["seq"] == 2  # the first one skipped it
        assert await nothing_arrives(channels, sender)
        assert len(executed) == 2  # the groups' members read at once, then every event written at once
    finally:
        await channels.flush()


async def test_an_event_to_a_full_channel_in_a_batch_is_dropped_and_logged(caplog: Any) -> None:
    channels = SkippingRedisChannelLayer(hosts=[REDIS_URL], prefix=f"test-full-{uuid.uuid4().hex[:8]}", capacity=2)
    reader = await channels.new_channel()
    await channels.group_add("slow", reader)
    caplog.set_level(logging.INFO, logger="chatbot.channel_layers")
    try:
        await channels.group_send_many([("slow", {"type": "chat.message", "n": n}) for n in range(4)])
        assert [(await channels.receive(reader))["n"] for _ in range(2)] == [0, 1]
        assert await nothing_arrives(channels, reader)
        assert "1 of 1 channels over capacity in group slow" in caplog.text
    finally:
        await channels.flush()
