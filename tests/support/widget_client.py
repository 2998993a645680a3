"""A resilient protocol v1 client over a real socket, behaving like static/chatbot/widget.js.

It keeps its visitor token, the conversation and the highest `seq` it has received; when the
connection drops it reconnects with the widget's jittered exponential back-off, opens with its
token, sends `resume` with that seq, and resends every message not yet acked with the same
`client_id`. It records everything a fault test needs to judge the server: each `message` frame
(and any seq received twice or skipped), acks, tokens, status frames, every connection attempt,
every reconnect and every close code.

    client = WidgetClient(stack.ws, ORIGIN, backoff_scale=0.2)
    await client.start()
    client_id = await client.send_message("Where is my parcel?")
    await client.wait_for(lambda c: c.acked(client_id) and c.replies_to(c.acks[client_id].seq), 60)
    await client.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import websockets
from websockets.asyncio.client import ClientConnection

RATE_LIMITED = 4429  # chatbot.conversations.consumers.RATE_LIMITED
HELLO_TIMEOUT_S = 15.0  # widget.js: a socket that says nothing this long after opening is dead

Frame = dict[str, Any]


def backoff_delay(attempt: int, *, scale: float = 1.0, rng: Callable[[], float] = random.random) -> float:
    """widget.js `schedule()`: min(30000, 500 * 2^attempt) * (0.5 + random()) ms, in seconds.

    `scale` shrinks the whole delay so a test can run the real formula quickly."""
    return min(30000.0, 500.0 * 2.0**attempt) * (0.5 + rng()) * scale / 1000.0


@dataclass(frozen=True)
class Ack:
    seq: int
    conversation: int
    at: float  # time.monotonic() when the ack arrived


@dataclass(frozen=True)
class Attempt:
    """One try to open a connection (the first connection's try too)."""

    at: float  # time.monotonic() when the try began
    attempt: int  # the back-off counter that chose the delay before it (0: the first retry after a session)
    delay: float  # the delay chosen before this try, in seconds (0 for the very first connection)
    waited: float  # measured: seconds from the end of the previous try (or the drop) to this one
    outcome: str  # "session", or why it failed: "refused 403", "rate_limited", "OSError: …"


@dataclass
class Reconnect:
    """A disconnect and the session that followed it."""

    disconnected_at: float
    close_code: int | None
    first_attempt_at: float | None = None
    connected_at: float | None = None  # when the new `session` frame arrived
    attempts: int = 0  # tries it took, the successful one included
    resumed_after: int | None = None  # the `after_seq` sent on the new connection (None: no resume)
    resent: tuple[str, ...] = ()  # client_ids sent again because they were not acked


@dataclass
class WidgetClient:
    """One widget visitor. Start it, send messages, wait for conditions, close it."""

    ws_base: str
    origin: str
    site: str = "demo"
    backoff_scale: float = 1.0
    token: str | None = None
    resume: bool = True  # send `resume` after reconnecting (tests turn it off to prove they notice)
    resend: bool = True  # resend unacked messages after reconnecting (likewise)
    name: str = ""

    conversation: int | None = None
    last_seq: int = 0
    connected: bool = False
    # conversation id -> seq -> the first `message` frame with that seq
    conversations: dict[int, dict[int, Frame]] = field(default_factory=dict)
    received: list[tuple[int, int]] = field(default_factory=list)  # (conversation, seq) in arrival order
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (conversation, seq) received again
    out_of_order: list[tuple[int, int]] = field(default_factory=list)  # arrived below a seq already seen
    sent: dict[str, str] = field(default_factory=dict)  # client_id -> text, every message ever sent
    outbox: dict[str, str] = field(default_factory=dict)  # client_id -> text, not acked yet (in order)
    acks: dict[str, Ack] = field(default_factory=dict)  # client_id -> first ack
    ack_counts: dict[str, int] = field(default_factory=dict)
    tokens: list[Frame] = field(default_factory=list)
    statuses: list[Frame] = field(default_factory=list)
    errors: list[Frame] = field(default_factory=list)
    sessions: list[Frame] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    reconnects: list[Reconnect] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._connection: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._attempt = 0  # widget.js `attempt`: reset by every session frame
        self._retry_after = 0.0  # seconds the server asked us to wait (rate_limited)
        self._changed = asyncio.Event()
        self._timers: set[asyncio.Task[None]] = set()

    # --- public API ---

    async def start(self, timeout: float = 30) -> WidgetClient:
        """Connect (retrying with back-off like the widget) and wait for the first session."""
        self._task = asyncio.create_task(self._run(), name=f"widget-client {self.name}")
        await self.wait_for(lambda c: c.connected, timeout, what="the first session")
        return self

    async def send_message(self, text: str, client_id: str | None = None) -> str:
        """Queue a customer message in the outbox and send it now if connected. Returns its client_id."""
        client_id = client_id or uuid.uuid4().hex
        self.sent[client_id] = text
        self.outbox[client_id] = text
        if self.connected:
            await self._send_message(client_id, text)
        return client_id

    async def send(self, frame: Frame) -> bool:
        """Send any frame now; False when not connected (it is not queued)."""
        return await self._raw(frame) if self.connected else False

    async def wait_for(self, predicate: Callable[[WidgetClient], Any], timeout: float, what: str = "") -> None:
        """Wait until `predicate(self)` is true, re-checking after every frame and state change."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self._task is not None and self._task.done() and not self._closing:
                self._task.result()  # surface a crash of the receive loop
            event = self._changed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name or 'widget client'}: no {what or 'condition'} after {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def drop(self) -> None:
        """Close the socket from this side, as a lost network would; the client reconnects."""
        if self._connection is not None:
            await self._connection.close()

    async def close(self) -> None:
        """Stop for good: no reconnect."""
        self._closing = True
        for timer in list(self._timers):
            timer.cancel()
        if self._connection is not None:
            await self._connection.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.connected = False

    # --- what was received ---

    @property
    def messages(self) -> dict[int, Frame]:
        """seq -> `message` frame, in the current conversation."""
        return self.conversations.get(self.conversation, {}) if self.conversation is not None else {}

    def acked(self, client_id: str) -> bool:
        return client_id in self.acks

    def replies_to(self, seq: int) -> list[Frame]:
        """Bot messages of the current conversation that answer the message with this seq."""
        return [m for m in self.messages.values() if m.get("sender") == "bot" and m.get("reply_to") == seq]

    def gaps(self, conversation: int | None = None) -> list[int]:
        """Seqs below the highest one received that never arrived (in the current conversation)."""
        conversation = self.conversation if conversation is None else conversation
        seqs = self.conversations.get(conversation, {}) if conversation is not None else {}
        return [seq for seq in range(1, max(seqs, default=0) + 1) if seq not in seqs]

    def seqs(self, conversation: int | None = None) -> list[int]:
        """Seqs received in the conversation, in arrival order, duplicates included."""
        conversation = self.conversation if conversation is None else conversation
        return [seq for conv, seq in self.received if conv == conversation]

    # --- connection loop ---

    def _url(self) -> str:
        url = f"{self.ws_base}/ws/chat/?site={quote(self.site)}"
        return url + (f"&token={quote(self.token)}" if self.token else "")

    async def _run(self) -> None:
        delay, delay_attempt, ended = 0.0, 0, 0.0
        reconnect: Reconnect | None = None
        while not self._closing:
            if delay:
                await asyncio.sleep(delay)
            attempt_at = time.monotonic()
            if reconnect is not None:
                reconnect.attempts += 1
                if reconnect.first_attempt_at is None:
                    reconnect.first_attempt_at = attempt_at
            outcome, code = await self._connect_once(reconnect)
            waited = attempt_at - ended if ended else 0.0
            self.attempts.append(
                Attempt(at=attempt_at, attempt=delay_attempt, delay=delay, waited=waited, outcome=outcome)
            )
            ended = time.monotonic()
            if self._closing:
                return
            if outcome == "session":
                # This connection had a session and has ended: what follows is a reconnect.
                reconnect = Reconnect(disconnected_at=time.monotonic(), close_code=code)
                self.reconnects.append(reconnect)
            # widget.js schedule(): the delay grows with every try and resets after a session.
            delay_attempt = self._attempt
            delay = max(backoff_delay(self._attempt, scale=self.backoff_scale), self._retry_after)
            self._retry_after = 0.0
            self._attempt += 1
            self._notify()

    async def _connect_once(self, reconnect: Reconnect | None) -> tuple[str, int | None]:
        """One connection, from the handshake until it closes. Returns (outcome, close code)."""
        try:
            connection = await websockets.connect(
                self._url(),
                origin=self.origin,  # type: ignore[arg-type]
                open_timeout=HELLO_TIMEOUT_S,
                max_queue=None,
            )
        except websockets.exceptions.InvalidStatus as exc:
            return f"refused {exc.response.status_code}", None
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            return f"{type(exc).__name__}: {exc}", None
        self._connection = connection
        outcome = "no session"
        try:
            first = True
            while True:
                try:
                    data = await (asyncio.wait_for(connection.recv(), HELLO_TIMEOUT_S) if first else connection.recv())
                except TimeoutError:
                    break
                first = False
                frame = json.loads(data)
                if frame.get("type") == "session":
                    outcome = "session"
                    await self._on_session(frame, reconnect)
                elif frame.get("type") == "error" and frame.get("code") == "rate_limited" and outcome != "session":
                    outcome = "rate_limited"
                    self._retry_after = float(frame.get("retry_after") or 0)
                    self.errors.append(frame)
                else:
                    await self._on_frame(frame)
                self._notify()
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self.connected = False
            self._connection = None
            await connection.close()
            code = connection.close_code
            self.close_codes.append(code)
            if code == RATE_LIMITED and not self._retry_after:
                self._retry_after = 1.0
            self._notify()
        return outcome, code

    # --- frames ---

    async def _on_session(self, frame: Frame, reconnect: Reconnect | None) -> None:
        self.sessions.append(frame)
        self.token = frame.get("token") or self.token
        self._set_conversation(frame.get("conversation"))
        self._attempt = 0
        self.connected = True
        if reconnect is not None:
            reconnect.connected_at = time.monotonic()
        if self.conversation is not None and self.resume:
            if reconnect is not None:
                reconnect.resumed_after = self.last_seq
            await self._raw({"type": "resume", "after_seq": self.last_seq})
        if self.resend and self.outbox:
            if reconnect is not None:
                reconnect.resent = tuple(self.outbox)
            for client_id, text in list(self.outbox.items()):
                await self._send_message(client_id, text)

    async def _on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "message":
            self._on_message(frame)
        elif kind == "ack":
            self._set_conversation(frame.get("conversation"))
            client_id = str(frame["client_id"])
            self.ack_counts[client_id] = self.ack_counts.get(client_id, 0) + 1
            self.acks.setdefault(
                client_id, Ack(seq=int(frame["seq"]), conversation=int(frame["conversation"]), at=time.monotonic())
            )
            self.outbox.pop(client_id, None)
        elif kind == "token":
            self.tokens.append(frame)
        elif kind == "status":
            self.statuses.append(frame)
        elif kind == "error":
            self.errors.append(frame)
            if frame.get("code") == "rate_limited" and frame.get("client_id") in self.outbox:
                # Not stored: it stays in the outbox and goes again after the wait the server asked for.
                self._later(float(frame.get("retry_after") or 1), str(frame["client_id"]))

    def _on_message(self, frame: Frame) -> None:
        conversation, seq = int(frame["conversation"]), int(frame["seq"])
        self._set_conversation(conversation)
        self.received.append((conversation, seq))
        seen = self.conversations.setdefault(conversation, {})
        if seq in seen:
            self.duplicates.append((conversation, seq))
            return
        if seen and seq < max(seen):
            self.out_of_order.append((conversation, seq))
        seen[seq] = frame
        if conversation == self.conversation:
            self.last_seq = max(self.last_seq, seq)
        if frame.get("client_id") in self.outbox:
            self.outbox.pop(str(frame["client_id"]))

    def _set_conversation(self, conversation: Any) -> None:
        # A different conversation (new visitor, a closed one replaced): seqs start again.
        if conversation is not None and conversation != self.conversation:
            self.conversation = int(conversation)
            self.last_seq = max(self.conversations.get(self.conversation, {}), default=0)

    # --- sending ---

    async def _send_message(self, client_id: str, text: str) -> None:
        await self._raw({"type": "message", "client_id": client_id, "text": text})

    async def _raw(self, frame: Frame) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            await connection.send(json.dumps(frame))
        except websockets.exceptions.ConnectionClosed:
            return False  # the receive loop sees the close and reconnects; the outbox keeps the message
        return True

    def _later(self, seconds: float, client_id: str) -> None:
        async def resend() -> None:
            await asyncio.sleep(seconds)
            if client_id in self.outbox and self.connected:
                await self._send_message(client_id, self.outbox[client_id])

        timer = asyncio.create_task(resend())
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
