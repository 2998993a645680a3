"""Soak: many widget sessions held open for a long time under a steady message rate.

    python bench/soak.py [--sessions 500] [--rate 20] [--duration 600] [--responder echo|faq]
                         [--drain 60] [--seed 1] [--web-workers 1] [--database-url ...] [--redis-url ...]

It starts the distributed stack on loopback with bench/ws_load.py's `Stack`: a PostgreSQL
database (default `bench_soak`: created if missing, flushed, migrated, demo site set up), Redis db
13 (flushed), uvicorn (one process unless --web-workers) and one Celery worker on the `inference`
queue, with the abuse limits off and `CHATBOT_RESPONDER` set by --responder: `echo` (default), the
fixed-reply stub, measures the serving path; `faq` answers with the real MiniLM retrieval, which a
2-core machine cannot do at 20 messages/s next to everything else.

After one question answered end to end (warm-up), it opens --sessions widget sessions at --ramp
per second and keeps every one open to the end. Then it sends --rate messages/s in all, at a steady
interval, for --duration seconds, each from a random session that has no unanswered message (when
there is one), each with its own client_id. Sends are open-loop: a slow server shows up as latency
and as messages still unanswered, not as fewer messages. After the last send it waits up to
--drain seconds for the outstanding acks and replies.

It checks every message on the client (acked once, delivered once, answered by exactly one bot
reply) and then in the database (one row per client_id, exactly one bot reply per customer
message), and samples the memory (RSS and PSS) of the uvicorn and Celery process groups and of
Redis every --sample-every seconds.

Prints one JSON object on stdout (progress on stderr), also when something went wrong; exits 1
when a message was lost or duplicated, or the run could not complete.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import picows  # noqa: E402
from picows import WSMsgType  # noqa: E402

from bench.ws_load import (  # noqa: E402
    DEFAULT_ORIGIN,
    PAGE_URL,
    QUESTIONS,
    RATE_LIMITS_OFF,
    USER_AGENT,
    CpuMeter,
    Phase,
    Session,
    Stack,
    _proc_stats,
    close_all,
    connect_all,
    is_loopback,
    latency_ms,
    loop_lag_monitor,
    machine_info,
    raise_nofile,
    uvloop,
    wait_until,
    warm_up,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_soak"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
PAGE_SIZE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- what the client sees -----------------------------------------------------------------------


@dataclass
class Sent:
    """One customer message, from its send to its bot reply."""

    session: int
    at: float  # perf_counter() at send
    ack_at: float | None = None
    seq: int | None = None
    first_token_at: float | None = None
    reply_at: float | None = None
    reply_seqs: set[int] = field(default_factory=set)
    stored_seqs: set[int] = field(default_factory=set)  # seqs of this client_id's own `message` frames


class Soak(Phase):
    """The whole run's client-side bookkeeping (a `Phase`, so ws_load's sessions count into it)."""

    def __init__(self) -> None:
        super().__init__("chat")
        self.messages: dict[str, Sent] = {}  # client_id -> what happened to it
        self.duplicate_deliveries = 0  # a `message` frame whose seq this connection already had
        self.ack_conflicts = 0  # a second ack for a client_id, with another seq
        self.repeated_acks = 0  # a second ack for a client_id, with the same seq (we never resend)
        self.double_replies = 0  # a second bot reply (another seq) to one customer message
        self.customer_stored_twice = 0  # our own message delivered under two seqs
        self.foreign_replies = 0  # a bot reply to a seq this session never sent
        self.decisions: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.reply_texts: Counter[str] = Counter()


class SoakSession(Session):
    """One widget connection that checks the exactly-once promises of protocol v1."""

    def __init__(self, phase: Phase) -> None:
        super().__init__(phase)
        assert isinstance(phase, Soak)
        self.soak = phase
        self.index = -1
        self.by_seq: dict[int, str] = {}  # our customer message's seq -> client_id
        self.delivered: set[int] = set()  # seqs of every `message` frame received
        self.awaiting: set[str] = set()  # client_ids sent and not yet answered
        self.early_replies: dict[int, list[tuple[float, int]]] = {}  # reply before we knew its seq

    def send_message(self, text: str) -> None:
        assert self.transport is not None
        client_id = uuid.uuid4().hex
        payload = json.dumps({"type": "message", "client_id": client_id, "text": text}).encode()
        now = time.perf_counter()
        self.soak.messages[client_id] = Sent(self.index, now)
        self.awaiting.add(client_id)
        self.soak.sent += 1
        if self.soak.first_send is None:
            self.soak.first_send = now
        self.transport.send(WSMsgType.TEXT, payload)

    def _on_text(self, payload: bytes, now: float) -> None:
        soak = self.soak
        try:
            data = json.loads(payload)
        except ValueError:
            soak.frames["not_json"] += 1
            return
        kind = data.get("type")
        soak.frames[str(kind)] += 1
        if kind == "ack":
            self._on_ack(str(data.get("client_id")), int(data["seq"]), now)
        elif kind == "message":
            self._on_message(data, now)
        elif kind == "token":
            seq = data.get("reply_to")
            client_id = self.by_seq.get(seq) if isinstance(seq, int) else None
            if client_id is not None and soak.messages[client_id].first_token_at is None:
                soak.messages[client_id].first_token_at = now
        elif kind == "session":
            if not self.ready.done():
                self.ready.set_result(None)
        elif kind == "status":
            soak.statuses[str(data.get("status"))] += 1
        elif kind == "error":
            soak.errors[str(data.get("code"))] += 1

    def _know_seq(self, client_id: str, seq: int) -> None:
        if seq in self.by_seq:
            return
        self.by_seq[seq] = client_id
        for at, reply_seq in self.early_replies.pop(seq, []):
            self._on_reply(client_id, reply_seq, at)

    def _on_ack(self, client_id: str, seq: int, now: float) -> None:
        soak = self.soak
        sent = soak.messages.get(client_id)
        if sent is None or sent.session != self.index:
            soak.unmatched += 1
            return
        if sent.seq is None:
            sent.seq, sent.ack_at = seq, now
            soak.answered += 1
            soak.last_answer = now
            self._know_seq(client_id, seq)
        elif sent.seq == seq:
            soak.repeated_acks += 1
        else:
            soak.ack_conflicts += 1

    def _on_message(self, data: dict[str, Any], now: float) -> None:
        soak = self.soak
        seq = int(data["seq"])
        if seq in self.delivered:
            soak.duplicate_deliveries += 1
            return
        self.delivered.add(seq)
        sender = data.get("sender")
        if sender == "customer":
            client_id = str(data.get("client_id"))
            sent = soak.messages.get(client_id)
            if sent is None or sent.session != self.index:
                soak.unmatched += 1
                return
            sent.stored_seqs.add(seq)
            if len(sent.stored_seqs) > 1:
                soak.customer_stored_twice += 1
            self._know_seq(client_id, seq)
        elif sender == "bot":
            soak.decisions[str(data.get("decision"))] += 1
            soak.reply_texts[str(data.get("text"))[:80]] += 1
            reply_to = data.get("reply_to")
            if not isinstance(reply_to, int):
                soak.foreign_replies += 1
                return
            client_id = self.by_seq.get(reply_to)
            if client_id is None:
                # Ahead of the ack and of our own message's frame: matched when its seq is known.
                self.early_replies.setdefault(reply_to, []).append((now, seq))
            else:
                self._on_reply(client_id, seq, now)

    def _on_reply(self, client_id: str, reply_seq: int, now: float) -> None:
        soak = self.soak
        sent = soak.messages[client_id]
        sent.reply_seqs.add(reply_seq)
        if len(sent.reply_seqs) > 1:
            soak.double_replies += 1
            return
        sent.reply_at = now
        soak.replies += 1
        self.awaiting.discard(client_id)


# --- memory -------------------------------------------------------------------------------------------


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def group_memory(pgid: int) -> dict[str, float]:
    """RSS and PSS (shared pages split between their users) of one process group, in MB."""
    pids = [pid for pid, _, pgrp, _ in _proc_stats() if pgrp == pgid]
    return {
        "rss_mb": round(sum(_status_kb(pid, "VmRSS:") for pid in pids) / 1024, 1),
        "pss_mb": round(sum(_pss_kb(pid) for pid in pids) / 1024, 1),
        "processes": len(pids),
    }


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if not var:
        return None
    return round(sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 60, 3)


class MemorySampler:
    """Samples the server's and the worker's process groups, Redis and this client."""

    def __init__(self, stack: Stack, every_s: float) -> None:
        self.stack = stack
        self.every_s = every_s
        self.groups = stack.groups()
        self.samples: list[dict[str, Any]] = []
        self.zero = time.perf_counter()  # moved to the first send by `load_starts`
        self.redis = stack._redis()

    def load_starts(self, at: float) -> None:
        """Count time from `at` (the first send): samples taken before it get negative times."""
        for row in self.samples:
            row["t_s"] = round(row["t_s"] - (at - self.zero), 1)
        self.zero = at

    def sample(self, sessions_open: int) -> None:
        row: dict[str, Any] = {"t_s": round(time.perf_counter() - self.zero, 1), "sessions_open": sessions_open}
        for name, pgid in self.groups.items():
            row[name] = group_memory(pgid)
        try:
            info = self.redis.info("memory")
            row["redis_used_mb"] = round(int(info["used_memory"]) / 2**20, 1)
        except Exception as exc:  # a sample must not end the run
            row["redis_error"] = type(exc).__name__
        row["client_rss_mb"] = round(_status_kb(os.getpid(), "VmRSS:") / 1024, 1)
        self.samples.append(row)

    async def run(self, stop: asyncio.Event, sessions_open: Any) -> None:
        while not stop.is_set():
            self.sample(sessions_open())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

    def summary(self, duration: float) -> dict[str, Any]:
        """Start, end, growth and slope over the sending window (t = 0 at the first send)."""
        # From the sample taken just before the first send to the last one of the sending window.
        window = [s for s in self.samples if -1 <= s["t_s"] <= duration + self.every_s / 2]
        result: dict[str, Any] = {"sample_every_s": self.every_s, "samples_in_window": len(window)}
        if not window:
            return result
        series: dict[str, list[tuple[float, float]]] = {}
        for row in window:
            for name in self.groups:
                if name in row:
                    series.setdefault(f"{name}_rss", []).append((row["t_s"], row[name]["rss_mb"]))
                    series.setdefault(f"{name}_pss", []).append((row["t_s"], row[name]["pss_mb"]))
            if "redis_used_mb" in row:
                series.setdefault("redis_used", []).append((row["t_s"], row["redis_used_mb"]))
            series.setdefault("client_rss", []).append((row["t_s"], row["client_rss_mb"]))
        for key, points in series.items():
            start, end = points[0][1], points[-1][1]
            half = [p for p in points if p[0] >= points[-1][0] / 2]
            result[key] = {
                "start_mb": start,
                "end_mb": end,
                "peak_mb": max(v for _, v in points),
                "growth_mb": round(end - start, 1),
                "growth_pct": round((end - start) / start * 100, 1) if start else None,
                "slope_mb_per_min": slope_per_min(points),
                "slope_second_half_mb_per_min": slope_per_min(half),
            }
        if self.samples and self.samples[0]["sessions_open"] == 0:
            result["before_sessions"] = self.samples[0]
        return result

    def queue_lengths(self) -> dict[str, int]:
        """Tasks waiting in the Celery queues (`inference`: replies; `analytics`: sentiment)."""
        lengths = {}
        for queue in ("inference", "analytics"):
            try:
                # kombu keeps a queue's priority levels as lists named after it.
                keys = [k for k in self.redis.scan_iter(match=f"{queue}*") if self.redis.type(k) == b"list"]
                lengths[queue] = sum(int(self.redis.llen(k)) for k in keys)
            except Exception as exc:  # a diagnostic must not end the run
                log(f"LLEN {queue}: {exc!r}")
        return lengths

    def close(self) -> None:
        self.redis.close()


# --- the run ----------------------------------------------------------------------------------------


async def open_sessions(
    url: str, soak: Soak, headers: dict[str, str], n: int, per_s: float, limit_s: float
) -> tuple[list[SoakSession | None], dict[str, Any]]:
    """Open `n` sessions, `per_s` a second (each second's batch at once), all kept open."""
    opened, stats = await connect_all(
        url, soak, headers, n, max(1, round(per_s)), limit_s, per_s=per_s, factory=SoakSession
    )
    sessions: list[SoakSession | None] = []
    for index, session in enumerate(opened):
        assert session is None or isinstance(session, SoakSession)
        if session is not None:
            session.index = index
        sessions.append(session)
    log(f"sessions: {stats['ok']} open, {stats['failed']} failed")
    return sessions, {
        "opened": stats["ok"],
        "failed": stats["failed"],
        "failures": stats["failures"],
        "wall_s": round(stats["wall_s"], 1),
        "per_s": stats["per_s"],
        "connect_ms": stats["latency_ms"],
    }


def pick(sessions: list[SoakSession | None], rng: random.Random) -> tuple[SoakSession | None, bool]:
    """A random live session, preferring one with no unanswered message: (session, it was idle)."""
    live: SoakSession | None = None
    for _ in range(64):
        session = sessions[rng.randrange(len(sessions))]
        if session is None or session.closed:
            continue
        if not session.awaiting:
            return session, True
        live = live or session
    return live, False


def per_window(soak: Soak, start: float, width_s: float, duration: float) -> list[dict[str, Any]]:
    """Per-minute (by default) rows: messages sent in the window and their latencies, and acks and
    replies received in it per second."""
    count = max(1, int(-(-duration // width_s)))
    rows: list[dict[str, Any]] = []
    by_send: list[list[Sent]] = [[] for _ in range(count)]
    acks_in = [0] * (count + 1)
    replies_in = [0] * (count + 1)
    for sent in soak.messages.values():
        by_send[min(count - 1, max(0, int((sent.at - start) // width_s)))].append(sent)
        if sent.ack_at is not None:
            acks_in[min(count, max(0, int((sent.ack_at - start) // width_s)))] += 1
        if sent.reply_at is not None:
            replies_in[min(count, max(0, int((sent.reply_at - start) // width_s)))] += 1
    for index, window in enumerate(by_send):
        width = min(width_s, duration - index * width_s)
        ack = latency_ms([s.ack_at - s.at for s in window if s.ack_at is not None])
        reply = latency_ms([s.reply_at - s.at for s in window if s.reply_at is not None])
        rows.append(
            {
                "from_s": round(index * width_s),
                "sent": len(window),
                "sent_per_s": round(len(window) / width, 2) if width > 0 else None,
                "acks_per_s": round(acks_in[index] / width, 2) if width > 0 else None,
                "replies_per_s": round(replies_in[index] / width, 2) if width > 0 else None,
                "ack_p50_ms": ack["p50"],
                "ack_p95_ms": ack["p95"],
                "ack_max_ms": ack["max"],
                "reply_p95_ms": reply["p95"],
                "unacked": sum(s.ack_at is None for s in window),
                "unanswered": sum(s.reply_at is None for s in window),
            }
        )
    return rows


def database_check(database_url: str, ours: set[str]) -> tuple[dict[str, Any], set[str]]:
    """Every customer message stored once, and answered by exactly one bot reply, per the database.

    Returns the figures and this run's client_ids that are missing or unanswered there."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=10) as conn:
        customers = conn.execute(
            """
            SELECT c.client_id, count(r.id)
            FROM conversations_message c
            LEFT JOIN conversations_message r ON r.reply_to_id = c.id AND r.sender = 'bot'
            WHERE c.sender = 'customer'
            GROUP BY c.id, c.client_id
            """
        ).fetchall()
        bots_without_message = conn.execute(
            "SELECT count(*) FROM conversations_message WHERE sender = 'bot' AND reply_to_id IS NULL"
        ).fetchone()
        conversations = conn.execute("SELECT count(*) FROM conversations_conversation").fetchone()
        statuses = dict(conn.execute("SELECT status, count(*) FROM conversations_conversation GROUP BY status"))
    stored: Counter[str] = Counter()
    replies: dict[str, int] = {}
    for client_id, count in customers:
        stored[client_id] += 1
        replies[client_id] = replies.get(client_id, 0) + int(count)
    no_reply = [c for c, n in replies.items() if n == 0]
    many_replies = [c for c, n in replies.items() if n > 1]
    not_stored = ours - set(stored)
    figures = {
        "customer_messages": len(customers),
        "of_this_run": sum(1 for c in stored if c in ours),
        "not_stored": len(not_stored),
        "client_id_stored_twice": sum(1 for n in stored.values() if n > 1),
        "without_bot_reply": len(no_reply),
        "others_without_bot_reply": sum(1 for c in no_reply if c not in ours),  # the warm-up's
        "with_several_bot_replies": len(many_replies),
        "bot_replies_to_nothing": int(bots_without_message[0]) if bots_without_message else None,
        "conversations": int(conversations[0]) if conversations else None,
        "conversation_statuses": statuses,
        "samples_without_reply": no_reply[:5],
    }
    return figures, not_stored | {c for c in no_reply if c in ours}


async def soak_run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    base_url = f"ws://127.0.0.1:{stack.port}"
    headers = {"Origin": args.origin, "User-Agent": USER_AGENT}
    chat_url = f"{base_url}/ws/chat/?site={quote(args.site)}&page={quote(PAGE_URL, safe='')}"
    rng = random.Random(args.seed)

    log("warm-up: one question answered end to end")
    warm = await warm_up(chat_url, f"{base_url}/ws/echo/", headers, args.connect_timeout * 4)
    log(f"warm-up: {warm}")
    if warm.get("failure"):
        raise RuntimeError(f"cannot open a chat session ({warm['failure']})")

    soak = Soak()
    sessions: list[SoakSession | None] = []

    def sessions_open() -> int:
        return sum(1 for s in sessions if s is not None and not s.closed)

    memory = MemorySampler(stack, args.sample_every)
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(memory.run(stop_sampling, sessions_open))
    try:
        log(f"opening {args.sessions} sessions, {args.ramp}/s")
        sessions, opened = await open_sessions(chat_url, soak, headers, args.sessions, args.ramp, args.connect_timeout)
        log(f"sessions: {opened}")
        if not opened["opened"]:
            raise RuntimeError("no session could be opened")

        total = int(args.duration * args.rate)
        interval = 1 / args.rate
        cpu = CpuMeter(stack.groups())
        db_clock = stack.db_now()
        lag: list[float] = []
        lateness: list[float] = []
        stop_lag = asyncio.Event()
        lag_task = asyncio.create_task(loop_lag_monitor(lag, stop_lag, period=0.05))
        log(f"sending {total} messages, {args.rate}/s for {args.duration} s")
        start = time.perf_counter() + 0.2
        memory.load_starts(start)
        memory.sample(sessions_open())  # the start of the window: every session open, nothing sent
        cpu_before = cpu.snapshot()
        to_busy = skipped = 0
        next_log = start + 60
        for number in range(total):
            target = start + number * interval
            delay = target - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            lateness.append(max(0.0, time.perf_counter() - target))
            session, idle = pick(sessions, rng)
            if session is None:
                skipped += 1
                continue
            to_busy += not idle
            session.send_message(rng.choice(QUESTIONS))
            if time.perf_counter() >= next_log:
                next_log += 60
                done = [s for s in soak.messages.values() if s.ack_at is not None]
                recent = [s.ack_at - s.at for s in done[-1200:] if s.ack_at is not None]
                log(
                    f"t={time.perf_counter() - start:.0f}s sent {soak.sent} acked {soak.answered} "
                    f"replied {soak.replies} open {sessions_open()} recent ack p95 {latency_ms(recent)['p95']} ms"
                )
        send_end = time.perf_counter()
        cpu_sending = CpuMeter.delta(cpu_before, cpu.snapshot())
        log(f"sent {soak.sent}; draining (up to {args.drain} s)")

        def drained() -> bool:
            return all(s.ack_at is not None and s.reply_at is not None for s in soak.messages.values())

        await wait_until(drained, args.drain, poll=0.2)
        drain_s = time.perf_counter() - send_end
        # Late duplicates (a redelivered reply task announces its stored reply again) come after.
        await asyncio.sleep(args.linger)
        still_open = sessions_open()
        # Unanswered after the drain counts as lost; what the worker still had queued then tells a
        # worker that fell behind (capacity) from a reply that went missing.
        backlog = memory.queue_lengths()
        stop_lag.set()
        await lag_task
        memory.sample(still_open)
    finally:
        stop_sampling.set()
        await sampler
        memory.close()
        await close_all(list(sessions), soak)

    records = list(soak.messages.values())
    unacked = sum(s.ack_at is None for s in records)
    unanswered = sum(s.ack_at is not None and s.reply_at is None for s in records)
    log("checking the database")
    database, db_lost = database_check(args.database_url, set(soak.messages))
    # A message counts once however many ways it went missing.
    lost_ids = {c for c, s in soak.messages.items() if s.ack_at is None or s.reply_at is None} | db_lost
    duplicates = {
        "duplicate_deliveries": soak.duplicate_deliveries,
        "ack_conflicts": soak.ack_conflicts,
        "double_replies": soak.double_replies,
        "customer_stored_twice": soak.customer_stored_twice,
        "database_client_id_stored_twice": database["client_id_stored_twice"],
        "database_several_bot_replies": database["with_several_bot_replies"],
    }
    lost = {
        "never_acked": unacked,
        "acked_never_answered": unanswered,
        "database_not_stored": database["not_stored"],
        "database_without_bot_reply": database["without_bot_reply"],
    }
    sending_span = send_end - start
    ack = latency_ms([s.ack_at - s.at for s in records if s.ack_at is not None])
    reply = latency_ms([s.reply_at - s.at for s in records if s.reply_at is not None])
    first_token = latency_ms([s.first_token_at - s.at for s in records if s.first_token_at is not None])
    return {
        "warm_up": warm,
        "sessions": {
            **opened,
            "open_at_end": still_open,
            "unexpected_disconnects": soak.unexpected_disconnects,
            "close_codes_from_server": {str(k): v for k, v in soak.close_codes.items()},
        },
        "messages": {
            "scheduled": total,
            "sent": soak.sent,
            "skipped_no_live_session": skipped,
            "sent_to_a_session_still_waiting": to_busy,
            "acked": soak.answered,
            "answered": soak.replies,
            "offered_msgs_per_s": round(soak.sent / sending_span, 2) if sending_span > 0 else None,
            "acked_msgs_per_s_while_sending": round(
                sum(1 for s in records if s.ack_at is not None and s.ack_at <= send_end) / sending_span, 2
            )
            if sending_span > 0
            else None,
            "drain_s": round(drain_s, 1),
            "celery_queues_after_drain": backlog,
            "lost": len(lost_ids) + database["others_without_bot_reply"],
            "lost_detail": lost,
            "duplicated": sum(duplicates.values()),
            "duplicated_detail": duplicates,
            "repeated_acks_same_seq": soak.repeated_acks,
            "unmatched_frames": soak.unmatched,
            "foreign_bot_replies": soak.foreign_replies,
            "error_frames": dict(soak.errors),
            "frames": dict(soak.frames),
            "bot_decisions": dict(soak.decisions),
            "bot_reply_texts": dict(soak.reply_texts.most_common(5)),
            "status_frames": dict(soak.statuses),
        },
        "latency_ms": {"ack": ack, "reply": reply, "first_token": first_token},
        "per_minute": per_window(soak, start, args.bucket, args.duration),
        "memory": {**memory.summary(args.duration), "samples": memory.samples},
        "cpu_while_sending": cpu_sending,
        "worker_reply_timings_ms": stack.reply_timings(db_clock),
        "database": database,
        "client": {
            "send_lateness_ms": latency_ms(lateness),
            "loop_lag_ms": latency_ms(lag),
        },
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500, help="widget sessions kept open (default %(default)s)")
    parser.add_argument("--rate", type=float, default=20, help="messages/s over all sessions (default %(default)s)")
    parser.add_argument("--duration", type=float, default=600, help="seconds of sending (default %(default)s)")
    parser.add_argument(
        "--responder", choices=("echo", "faq"), default="echo", help="CHATBOT_RESPONDER (default %(default)s)"
    )
    parser.add_argument("--drain", type=float, default=60, help="max seconds to wait for answers after sending")
    parser.add_argument("--linger", type=float, default=5, help="seconds to watch for late duplicates after that")
    parser.add_argument("--ramp", type=float, default=50, help="sessions opened per second (default %(default)s)")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes (default %(default)s)")
    parser.add_argument(
        "--worker-concurrency", type=int, default=1, help="Celery pool processes on `inference` (default %(default)s)"
    )
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between memory samples")
    parser.add_argument("--bucket", type=float, default=60, help="seconds per row of the time series")
    parser.add_argument("--connect-timeout", type=float, default=30, help="seconds per connection")
    parser.add_argument("--origin", default=DEFAULT_ORIGIN, help="Origin header (default %(default)s)")
    parser.add_argument("--site", default="demo", help="site key (default %(default)s)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="(default %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="flushed at start (default %(default)s)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE", help="extra server env")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sessions and questions picked")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server and worker logs")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.web_workers < 1:
        parser.error("--sessions and --web-workers must be at least 1")
    if min(args.rate, args.duration, args.ramp, args.sample_every, args.bucket) <= 0:
        parser.error("--rate, --duration, --ramp, --sample-every and --bucket must be positive")
    for item in args.server_env:
        if "=" not in item:
            parser.error(f"--server-env {item!r} is not KEY=VALUE")
    if not all(is_loopback(urlsplit(u).hostname) for u in (args.database_url, args.redis_url)):
        parser.error("only loopback addresses (127.0.0.1, ::1, localhost) are allowed")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the database is flushed: its name must contain 'bench'")
    # Stack reads its server environment from here; the responder goes first so --server-env wins.
    args.server_env = [f"CHATBOT_RESPONDER={args.responder}", *args.server_env]
    return args


def main() -> int:
    args = parse_args()
    nofile = raise_nofile()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    launched = time.perf_counter()
    started = time.time()
    stack = Stack(args)
    result: dict[str, Any] = {"benchmark": "soak", "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ok = False
    try:
        stack.start()
        result["startup_s"] = round(time.perf_counter() - launched, 1)
        runner_kwargs: dict[str, Any] = {"loop_factory": uvloop.new_event_loop} if uvloop else {}
        with asyncio.Runner(**runner_kwargs) as runner:
            measured = runner.run(soak_run(args, stack))
        messages = measured["messages"]
        ok = messages["lost"] == 0 and messages["duplicated"] == 0
        memory = measured["memory"]
        result["verdict"] = {
            "ok": ok,
            "lost": messages["lost"],
            "duplicated": messages["duplicated"],
            "sessions_opened": measured["sessions"]["opened"],
            "sessions_failed": measured["sessions"]["failed"],
            "sessions_open_at_end": measured["sessions"]["open_at_end"],
            "unexpected_disconnects": measured["sessions"]["unexpected_disconnects"],
            "sent": messages["sent"],
            "acked": messages["acked"],
            "answered": messages["answered"],
            "offered_msgs_per_s": messages["offered_msgs_per_s"],
            "acked_msgs_per_s_while_sending": messages["acked_msgs_per_s_while_sending"],
            "ack_ms": {k: measured["latency_ms"]["ack"][k] for k in ("p50", "p95", "p99", "max")},
            "reply_ms": {k: measured["latency_ms"]["reply"][k] for k in ("p50", "p95", "p99", "max")},
            "ack_p95_ms_per_minute": [row["ack_p95_ms"] for row in measured["per_minute"]],
            "acks_per_s_per_minute": [row["acks_per_s"] for row in measured["per_minute"]],
            "memory_growth": {
                key: {k: memory[key][k] for k in ("start_mb", "end_mb", "growth_mb", "growth_pct", "slope_mb_per_min")}
                for key in ("server_rss", "server_pss", "worker_rss", "worker_pss", "redis_used")
                if key in memory
            },
            "cpu_pct_of_one_core": {
                k.removesuffix("_cpu_pct_of_one_core"): v
                for k, v in measured["cpu_while_sending"].items()
                if k.endswith("_cpu_pct_of_one_core")
            },
            "machine_busy_pct": measured["cpu_while_sending"].get("machine_busy_pct"),
        }
        result.update(measured)
    except KeyboardInterrupt:
        log("interrupted; stopping the processes")
        result["error"] = "interrupted"
    except Exception as exc:
        log(f"the run failed: {exc!r}")
        result["error"] = repr(exc)
    finally:
        result["wall_s"] = round(time.time() - started, 1)
        result["machine"] = machine_info()
        result["settings"] = {
            "sessions": args.sessions,
            "rate_msgs_per_s": args.rate,
            "duration_s": args.duration,
            "responder": args.responder,
            "drain_s": args.drain,
            "linger_s": args.linger,
            "ramp_sessions_per_s": args.ramp,
            "uvicorn_processes": args.web_workers,
            "celery_worker": f"1 worker, --concurrency {args.worker_concurrency}, queue inference",
            "database_url": args.database_url,
            "redis_url": args.redis_url,
            "server_env": {
                k: v for k, v in (stack.env or {}).items() if k.startswith("CHATBOT_") and k not in RATE_LIMITS_OFF
            },
            "rate_limits": "off",
            "seed": args.seed,
            "send_pattern": "open loop, one message every 1/rate s, to a random session with no unanswered message",
            "client": f"picows {picows.__version__} on {'uvloop' if uvloop else 'asyncio'}, one process",
            "rlimit_nofile": nofile,
            "client_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if stack.server is not None:
            result["server_logs"] = stack.log_summary()
        result["notes"] = [
            "lost = max(client side: sent and never acked, or acked and never answered after the drain; "
            "database: not stored, or stored without a bot reply)",
            "duplicated = a seq delivered twice to one connection, a second ack with another seq, a second bot "
            "reply to one message, or a client_id stored twice / a message with several replies in the database",
            "ack = send -> `ack` frame; reply = send -> the bot's `message` frame; first_token = send -> first `token`",
            "memory: t_s from the first send; rss sums every process of the group (shared pages counted in each), "
            "pss splits them; growth = last sample of the sending window - first",
            "cpu_pct_of_one_core: during the sending window; 100 = one core fully busy",
            "per_minute rows: by send time (sent, latencies, unacked/unanswered), by receive time (acks/s, replies/s)",
        ]
        stack.stop(keep_logs=args.keep_logs or not ok)
        if not ok:
            for process in stack.started:
                log(f"{process.name} log kept: {process.log}")
        print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
