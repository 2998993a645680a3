"""The Redis channel layer, with group events that skip the socket they came from, and a batched
`group_send_many` for the realtime publisher (chatbot.conversations.events).

A widget socket stores its customer's message and shows it at once. The same message is then
published to the conversation's group, so that the visitor's other tabs get it, and it came back
to the socket that sent it, which dropped it as already delivered: one event written to Redis,
read back and thrown away for every message. In the usual case (one tab) nobody else is in the
group, so the event costs Redis nothing more than the group's lookup. The same goes for a new
conversation's announcement to the visitor's own group, and for typing.

An event names the channel to skip under `SKIP_CHANNEL`; the key is taken out before the event is
written. Channels' in-memory layer (one process, no Redis) ignores the key and delivers to every
member: a skipped socket gets the event back and drops it, as it always did, so skipping changes
what is sent, never what a socket shows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import redis
from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)

# The key of a group event naming the one member channel that does not get it.
SKIP_CHANNEL = "skip_channel"

# channels_redis 4.3's group_send script (core.py), unchanged: each channel key gets the event unless
# it is at capacity; returns how many were.
GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""


class SkippingRedisChannelLayer(RedisChannelLayer):
    """channels_redis's layer; `group_send` leaves out the member named by the event's `SKIP_CHANNEL`."""

    _blocking_client: redis.Redis | None = None
    _blocking_lock = threading.Lock()

    def groups_join_blocking(self, memberships: Sequence[tuple[str, str]]) -> bool:
        """`group_add` of each (group, channel), from a thread that runs no event loop (the group
        commit's writer), in one pipelined round trip: what channels_redis's `group_add` writes
        (the channel into the group's sorted set, stamped now; the group's expiry renewed).
        False, with nothing done, where it cannot do that: sharded over several Redis servers, or
        a host given as anything but an address."""
        if self.ring_size != 1 or "address" not in self.hosts[0]:
            return False
        client = self._blocking_redis()
        now = time.time()
        writes = client.pipeline(transaction=False)
        for group, channel in memberships:
            assert self.require_valid_group_name(group), "Group name not valid"
            assert self.require_valid_channel_name(channel), "Channel name not valid"
            key = self._group_key(group)
            writes.zadd(key, {channel: now})
            writes.expire(key, self.group_expiry)
        writes.execute()
        return True

    def _blocking_redis(self) -> redis.Redis:
        with self._blocking_lock:
            if self._blocking_client is None:
                host = dict(self.hosts[0])
                self._blocking_client = redis.Redis.from_url(host.pop("address"), **host)
            return self._blocking_client

    def _map_channel_keys_to_connection(self, channel_names: list[str], message: dict[str, Any]) -> Any:
        # channels_redis 4.3 calls this from group_send with the group's members, before it writes
        # the event to each; with no member left it writes nothing.
        if SKIP_CHANNEL in message:
            message = dict(message)
            skip = message.pop(SKIP_CHANNEL)
            channel_names = [name for name in channel_names if name != skip]
        return super()._map_channel_keys_to_connection(channel_names, message)

    async def group_send_many(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`group_send` of each (group, event), in order, in two pipelined round trips for them all
        instead of two to four each: one reads every group's members, one writes every event. A
        web process publishes two events or more per message (its conversation, the consoles'
        inbox), and each `group_send` cost about 190 us of its CPU, whether anyone listened or not."""
        if self.ring_size != 1:  # sharded over several Redis servers: channels_redis's way
            for group, event in events:
                await self.group_send(group, event)
            return
        connection = self.connection(0)
        group_keys = [self._group_key(group) for group, _ in events]
        keys = list(dict.fromkeys(group_keys))
        reads = connection.pipeline(transaction=False)
        for key in keys:
            reads.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
            reads.zrange(key, 0, -1)
        replies = await reads.execute()
        members = {key: [name.decode("utf8") for name in replies[2 * i + 1]] for i, key in enumerate(keys)}
        writes = connection.pipeline(transaction=False)
        written: list[tuple[str, int, int]] = []  # group, its channel keys, the index of its script's reply
        position = 0
        for (group, event), key in zip(events, group_keys, strict=True):
            by_connection, messages, capacities = self._map_channel_keys_to_connection(members[key], event)
            channel_keys = by_connection.get(0, [])
            if not channel_keys:
                continue
            for channel_key in channel_keys:
                writes.zremrangebyscore(channel_key, min=0, max=int(time.time()) - int(self.expiry))
            arguments = [messages[k] for k in channel_keys] + [capacities[k] for k in channel_keys]
            writes.eval(GROUP_SEND_LUA, len(channel_keys), *channel_keys, *arguments, time.time(), self.expiry)
            position += len(channel_keys) + 1
            written.append((group, len(channel_keys), position - 1))
        if not written:
            return
        results = await writes.execute()
        for group, count, index in written:
            if results[index]:
                logger.info("%s of %s channels over capacity in group %s", results[index], count, group)
