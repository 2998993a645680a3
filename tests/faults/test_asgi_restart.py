"""The ASGI server restarts under 200 open sockets: every client reconnects with jittered back-off,
resumes, and nothing is lost or duplicated.

Real processes: one uvicorn on a fixed port, one Celery worker on `inference`, Redis (broker and
channel layer, under this module's own prefix) and pytest-django's PostgreSQL test database. The
clients are tests/support/widget_client.py's, which reconnect, resume and resend like widget.js.

At the kill some customer messages are in flight: sent but not received, received but not stored,
stored but not acked, acked. Whatever the case, each must end up stored exactly once (the client
resends what was not acked, the server dedups by client_id) and answered exactly once (a message
stored before the kill was handed to Celery, whose worker answers it while the web process is
down; the client gets the reply through `resume`).

The server is restarted twice under the same 200 clients: gracefully (SIGTERM: uvicorn closes the
sockets with 1012) and killed (SIGKILL: the sockets just die). Replies come from the fixed-reply
responder (CHATBOT_RESPONDER=echo) on a threaded worker: the serving path is under test, not the
answers, and 1,000 replies must take seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async

from chatbot.conversations.models import Message, Sender
from tests.processes import BIN, RATE_LIMITS_OFF, Process, asgi_server, base_env, free_port, postgres_test_url
from tests.support.widget_client import WidgetClient

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = "https://shop.example.com"
CLIENTS = 200
BACKOFF_SCALE = 0.2
BASE_DELAY_S = 0.5 * BACKOFF_SCALE  # the first retry's delay before jitter (widget.js: 500 ms)
QUESTIONS = [
    "How much does shipping cost?",
    "How can I track my order?",
    "How do I return an item?",
    "What payment methods do you accept?",
    "Can I cancel my order?",
    "Do you sell gift cards?",
]
WORKER_POOL = ("--pool", "threads", "--concurrency", "4", "-l", "info", "--without-gossip", "--without-mingle")


@dataclass
class Stack:
    env: dict[str, str]
    port: int
    worker: Process
    server: Process

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def restart_server(self, sig: int) -> tuple[float, float]:
        """Stop the web process with `sig` and start a new one on the same port. Returns when the
        old one was signalled and when it was gone (time.monotonic())."""
        signalled = time.monotonic()
        self.server.stop(sig)
        stopped = time.monotonic()
        self.server = asgi_server(self.env, self.port)
        return signalled, stopped


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[Stack]:
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()  # no reply tasks left over from an earlier run
    env = base_env(
        DATABASE_URL=postgres_test_url(),
        REDIS_URL=redis_url,
        CHATBOT_CHANNEL_PREFIX=f"test-restart-{uuid.uuid4().hex[:8]}",
        # The fixed-reply responder: what is under test is the serving path, not the answers, and a
        # model's answer to each of the 1,000 messages would take minutes on this machine.
        CHATBOT_RESPONDER="echo",
        # A message stored just before SIGKILL whose reply was never queued is the sweeper's to
        # find: soon, so the test does not wait the default 30 s for it.
        CHATBOT_REPLY_SWEEP_INTERVAL_S="1",
        CHATBOT_REPLY_SWEEP_AFTER_S="5",
        **RATE_LIMITS_OFF,
    )
    # One worker whose threads answer several conversations at once: replies are database and
    # Redis round trips (no model), and one at a time 1,000 of them would take minutes.
    worker = Process("celery", [str(BIN / "celery"), "-A", "chatbot", "worker", "-Q", "inference", *WORKER_POOL], env)
    worker.start()
    port = free_port()
    server = asgi_server(env, port)
    worker.wait_for("ready.", timeout=120)
    stack = Stack(env, port, worker, server)
    try:
        yield stack
    finally:
        stack.server.stop()
        worker.stop()


@pytest.fixture
def site(db: None) -> Any:
    from chatbot.sites.models import Site

    return Site.objects.create(key="demo", name="Demo", allowed_origins=[ORIGIN])


def answered(client: WidgetClient) -> bool:
    """Every message the client sent is acked and its reply has arrived."""
    return not client.outbox and all(
        client_id in client.acks and client.replies_to(client.acks[client_id].seq) for client_id in client.sent
    )


async def all_of(clients: list[WidgetClient], predicate: Any, timeout: float, what: str) -> None:
    try:
        await asyncio.gather(*(c.wait_for(predicate, timeout, what) for c in clients))
    except TimeoutError:
        stuck = [c for c in clients if not predicate(c)]
        stored = await stored_messages()
        details = [
            f"{c.name}: conversation {c.conversation}, received {c.seqs()}, unacked {list(c.outbox)}, "
            f"acks { {k: a.seq for k, a in c.acks.items()} }, reconnects {c.reconnects}, "
            f"stored {[row[1:] for row in stored if row[0] == c.conversation]}"
            for c in stuck[:3]
        ]
        raise AssertionError(f"{len(stuck)} clients got no {what} after {timeout}s:\n" + "\n".join(details)) from None


async def some_acked(clients: list[WidgetClient], client_ids: list[str], count: int) -> None:
    """Return as soon as `count` of the messages are acked."""
    waits = [
        asyncio.ensure_future(c.wait_for(lambda c, i=client_id: c.acked(i), 60, "ack"))
        for c, client_id in zip(clients, client_ids, strict=True)
    ]
    try:
        for _, done in zip(range(count), asyncio.as_completed(waits), strict=False):
            await done
    finally:
        for wait in waits:
            wait.cancel()


async def send_round(clients: list[WidgetClient], number: int) -> list[str]:
    """Each client asks one question; returns their client_ids."""
    return list(
        await asyncio.gather(*(c.send_message(QUESTIONS[(i + number) % len(QUESTIONS)]) for i, c in enumerate(clients)))
    )


@database_sync_to_async
def stored_messages() -> list[tuple[int, int, str, str | None, int | None]]:
    """(conversation, seq, sender, client_id, seq of the message it replies to) of every message."""
    return [
        (m.conversation_id, m.seq, m.sender, m.client_id, m.reply_to.seq if m.reply_to else None)
        for m in Message.objects.select_related("reply_to").order_by("conversation_id", "seq")
    ]


async def assert_nothing_lost_or_duplicated(clients: list[WidgetClient]) -> None:
    stored = await stored_messages()
    by_conversation: dict[int, list[tuple[int, int, str, str | None, int | None]]] = {}
    for row in stored:
        by_conversation.setdefault(row[0], []).append(row)
    replies = Counter((conversation, reply_to) for conversation, _, sender, _, reply_to in stored if sender == "bot")
    assert len(by_conversation) == len(clients)
    for client in clients:
        assert client.conversation is not None and set(client.conversations) == {client.conversation}
        rows = by_conversation[client.conversation]
        customer = [(seq, client_id) for _, seq, sender, client_id, _ in rows if sender == Sender.CUSTOMER]
        # Every message sent is stored exactly once, under the seq it was acked with.
        assert sorted(client_id for _, client_id in customer) == sorted(client.sent), client.name
        assert {client_id: seq for seq, client_id in customer} == {
            client_id: ack.seq for client_id, ack in client.acks.items()
        }
        assert all(replies[(client.conversation, seq)] == 1 for seq, _ in customer), client.name
        # The client received each message of its conversation once, in seq order, with no gap.
        assert client.seqs() == [seq for _, seq, *_ in rows], client.name
        assert not client.duplicates and not client.gaps() and not client.out_of_order
        assert all(count == 1 or client_id in resent(client) for client_id, count in client.ack_counts.items())


def resent(client: WidgetClient) -> set[str]:
    return {client_id for reconnect in client.reconnects for client_id in reconnect.resent}


@dataclass
class Restart:
    """What one restart looked like from the clients' side (seconds from the signal)."""

    signal: str
    unacked_at_signal: int  # clients whose in-flight message had no ack when the server went down
    signalled: float  # time.monotonic()
    stopped_s: float  # the old process gone
    serving_s: float  # the new process answering /healthz
    all_reconnected_s: float
    all_answered_s: float  # every message, the ones in flight included, acked and answered
    attempts_max: int = 0  # connection attempts the slowest client needed
    first_retry_spread_s: float = 0.0  # the clients' first retries: latest minus earliest
    retries: int = 0  # connection attempts after the drop, all clients
    # Share of those retries that came sooner than the back-off's base delay for their attempt
    # (500 ms * 2^n, scaled). Only jitter makes that possible: a timer never fires early.
    retries_sooner_than_base: float = 0.0

    def measure_retries(self, clients: list[WidgetClient]) -> None:
        until = self.signalled + self.all_reconnected_s
        attempts = [a for c in clients for a in c.attempts if self.signalled <= a.at <= until]
        base = [min(30.0, 0.5 * 2.0**a.attempt) * BACKOFF_SCALE for a in attempts]
        firsts = [min(a.at for a in c.attempts if self.signalled <= a.at <= until) for c in clients]
        self.attempts_max = max(sum(self.signalled <= a.at <= until for a in c.attempts) for c in clients)
        self.first_retry_spread_s = round(max(firsts) - min(firsts), 3)
        self.retries = len(attempts)
        sooner = sum(a.waited < 0.9 * b for a, b in zip(attempts, base, strict=True))
        self.retries_sooner_than_base = round(sooner / len(attempts), 3)


async def restart_under_load(stack: Stack, clients: list[WidgetClient], sig: int, round_number: int) -> Restart:
    """Send a question from every client, restart the server while some are in flight, and wait
    until every client has reconnected, resumed and had every message acked and answered."""
    # Half the clients ask first; once a quarter of all are acked, the other half ask and the server
    # goes down at once, with their questions in flight. (All asking together, a fast server acked
    # every one of them in one commit before the signal.)
    first, second = clients[: CLIENTS // 2], clients[CLIENTS // 2 :]
    in_flight = await send_round(first, round_number)
    await some_acked(first, in_flight, CLIENTS // 4)
    await send_round(second, round_number)
    unacked = sum(bool(c.outbox) for c in clients)
    signalled, stopped = await asyncio.to_thread(stack.restart_server, sig)
    serving = time.monotonic()
    name = signal.Signals(sig).name

    def reconnected(client: WidgetClient) -> bool:
        return any(r.disconnected_at >= signalled and r.connected_at for r in client.reconnects)

    await all_of(clients, reconnected, 60, f"reconnect after {name}")
    reconnected_at = time.monotonic()
    await all_of(clients, answered, 120, f"reply to the questions in flight at {name}")
    return Restart(
        signal=name,
        unacked_at_signal=unacked,
        signalled=signalled,
        stopped_s=round(stopped - signalled, 2),
        serving_s=round(serving - signalled, 2),
        all_reconnected_s=round(reconnected_at - signalled, 2),
        all_answered_s=round(time.monotonic() - signalled, 2),
    )


async def test_200_clients_reconnect_resume_and_lose_or_duplicate_nothing_when_the_asgi_server_restarts(
    stack: Stack, site: Any
) -> None:
    started = time.monotonic()
    clients = [WidgetClient(stack.ws, ORIGIN, backoff_scale=BACKOFF_SCALE, name=f"client {i}") for i in range(CLIENTS)]
    restarts: list[Restart] = []
    try:
        await asyncio.gather(*(c.start(timeout=60) for c in clients))
        await send_round(clients, 0)
        await all_of(clients, answered, 120, "reply to the first question")
        first_round_s = time.monotonic() - started
        for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
            restarts.append(await restart_under_load(stack, clients, sig, 1 + 2 * number))
            # Everyone carries on on the new server.
            await send_round(clients, 2 + 2 * number)
            await all_of(clients, answered, 120, f"reply to a question after {restarts[-1].signal}")
        await asyncio.sleep(0.5)  # a late duplicate would arrive now
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    for restart in restarts:
        restart.measure_retries(clients)
    figures = {
        "clients": CLIENTS,
        "first_round_s": round(first_round_s, 2),
        "test_s": round(time.monotonic() - started, 2),
    }
    print(json.dumps({**figures, "restarts": [asdict(r) for r in restarts]}))

    for restart in restarts:
        # Some in-flight messages were acked before the server went down and some were not.
        assert 0 < restart.unacked_at_signal < CLIENTS, restart
        # Jittered, not synchronised: with the same delay for all, no retry would come sooner than
        # the base delay (a third of them do with the jitter), and they would come together.
        assert restart.retries_sooner_than_base >= 0.15, restart
        assert restart.first_retry_spread_s > 0.5 * BASE_DELAY_S, restart
    assert all(len(c.reconnects) >= 2 and len(c.sessions) == 3 for c in clients)
    assert all(len(c.sent) == 5 for c in clients)
    await assert_nothing_lost_or_duplicated(clients)
