"""The Redis channel layer, with group events that skip the socket they came from.

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

from typing import Any

from channels_redis.core import RedisChannelLayer

# The key of a group event naming the one member channel that does not get it.
SKIP_CHANNEL = "skip_channel"


class SkippingRedisChannelLayer(RedisChannelLayer):
    """channels_redis's layer; `group_send` leaves out the member named by the event's `SKIP_CHANNEL`."""

    def _map_channel_keys_to_connection(self, channel_names: list[str], message: dict[str, Any]) -> Any:
        # channels_redis 4.3 calls this from group_send with the group's members, before it writes
        # the event to each; with no member left it writes nothing.
        if SKIP_CHANNEL in message:
            message = dict(message)
            skip = message.pop(SKIP_CHANNEL)
            channel_names = [name for name in channel_names if name != skip]
        return super()._map_channel_keys_to_connection(channel_names, message)
