"""Websocket load: the widget's chat socket against a bare echo on the same server.

    python bench/ws_load.py [--sessions 10,100,1000] [--duration 20] [--rate 0.2 | --total-rate 200]
                            [--url ws://127.0.0.1:8000] [--server-env KEY=VALUE ...] [--web-workers 1]

Without `--url` it starts the distributed stack on loopback itself: a `chatbot_bench` PostgreSQL
database (created if missing, flushed, migrated, demo site set up), Redis db 13 (flushed), one
uvicorn process (CHATBOT_BENCH_ECHO=1, DJANGO_DEBUG=0) and one Celery worker on the `inference`
queue answering with the real MiniLM retrieval model; it stops them all when it ends.

For each number of sessions N it opens N widget sessions to /ws/chat/?site=demo (with an allowed
Origin, in batches), waits for each `session` frame, and lets every session send `message` frames
at a fixed per-session rate (random phase, the same seeded pattern for every run) for --duration
seconds, measuring send -> `ack` and send -> bot reply. The same load shape (same N, same send
times) also runs against /ws/echo/ on the same server (send -> echoed frame), before the chat phase
and on an idle server, so an overloaded chat phase cannot slow it: the chat/echo ratio is what the
chat path adds to a bare websocket round-trip. Sends are open-loop (on schedule, never waiting for
answers), so a slow server shows up as latency and missing acks rather than as fewer messages.

Prints one JSON object on stdout; progress goes to stderr. A benchmark, not a test: it always
exits 0 once it has measured, whatever the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import platform
import random
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import picows  # noqa: E402
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport  # noqa: E402

from tests import processes  # noqa: E402

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None

# Realistic shop questions (the demo shop sells home textiles, lamps and furniture), answered
# from the demo FAQ, plus a couple it does not cover (the bot then offers a person).
QUESTIONS = [
    "How much is postage?",
    "Do you ship outside the EU and UK?",
    "How long does delivery to Germany take?",
    "Can I return a lamp I don't like?",
    "My order still hasn't arrived, what should I do?",
    "Do you accept PayPal?",
    "Can I wash the linen duvet cover at 60 degrees?",
    "Does the sofa come assembled?",
    "My parcel arrived damaged, what now?",
    "Is there a discount for my first order?",
    "When will I get my money back?",
    "Can I change the delivery address on my order?",
    "Do you sell gift cards?",
    "Are your lamps dimmable?",
    "Do you have a shop in Berlin?",
    "Can I pay in instalments?",
]

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/chatbot_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
DEFAULT_ORIGIN = "https://shop.bench.example"  # a customer's shop embedding the widget
PAGE_URL = "https://shop.bench.example/products/linen-duvet-cover"
USER_AGENT = "ws_load/1 (picows)"
# The server's abuse limits (README, "Operations: abuse limits"), all off for the benchmark.
RATE_LIMITS_OFF = processes.RATE_LIMITS_OFF
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROBLEM_MARKERS = (" ERROR ", "ERROR/", "ERROR:", "CRITICAL", "Traceback", "Exception", "WARNING")
# Celery logs the model's progress bars (stderr) as WARNING lines; they are not problems.
NOISE_MARKERS = ("Loading weights", "it/s]")
WS_403 = re.compile(r'"WebSocket [^"]*" 403')


def log(message: str) -> None:
    print(f"[ws_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- statistics -------------------------------------------------------------------------------


def _rank(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def latency_ms(seconds: list[float]) -> dict[str, Any]:
    values = sorted(seconds)
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(values),
        "p50": round(_rank(values, 50) * 1000, 2),
        "p95": round(_rank(values, 95) * 1000, 2),
        "p99": round(_rank(values, 99) * 1000, 2),
        "max": round(values[-1] * 1000, 2),
        "mean": round(sum(values) / len(values) * 1000, 2),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# --- CPU accounting from /proc (no psutil in the venv) -------------------------------------------


def _proc_stats() -> Iterator[tuple[int, str, int, float]]:
    """(pid, comm, process group, cpu seconds) of every readable process."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1 : raw.rfind(")")]
        fields = raw[raw.rfind(")") + 2 :].split()
        yield int(entry.name), comm, int(fields[2]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _group_cpu(pgid: int) -> float:
    return sum(cpu for _, _, pgrp, cpu in _proc_stats() if pgrp == pgid)


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class CpuMeter:
    """CPU seconds used by the server, the worker, PostgreSQL, Redis and this client over a span."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups  # name -> process group id

    def snapshot(self) -> dict[str, float]:
        usage = dict.fromkeys([*self.groups, "postgres", "redis"], 0.0)
        by_group = {pgid: name for name, pgid in self.groups.items()}
        for _, comm, pgrp, cpu in _proc_stats():
            if pgrp in by_group:
                usage[by_group[pgrp]] += cpu
            elif comm.startswith("postgres"):
                usage["postgres"] += cpu
            elif comm.startswith("redis-server"):
                usage["redis"] += cpu
        own = resource.getrusage(resource.RUSAGE_SELF)
        usage["client"] = own.ru_utime + own.ru_stime
        busy, total = _machine_ticks()
        usage["_busy"], usage["_total"] = busy, total
        usage["_wall"] = time.perf_counter()
        return usage

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
        wall = after["_wall"] - before["_wall"]
        total = after["_total"] - before["_total"]
        result: dict[str, Any] = {
            f"{name}_cpu_pct_of_one_core": round((after[name] - before[name]) / wall * 100, 1)
            for name in before
            if not name.startswith("_")
        }
        result["machine_busy_pct"] = round((after["_busy"] - before["_busy"]) / total * 100, 1) if total else None
        return result


# --- the load client (picows) ----------------------------------------------------------------------


class Phase:
    """Counters and latencies of one load phase (chat or echo) at one number of sessions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.ack_s: list[float] = []
        self.reply_s: list[float] = []
        self.first_token_s: list[float] = []
        self.sent = 0
        self.answered = 0  # acks (chat) or echoed frames (echo)
        self.replies = 0
        self.frames: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.unmatched = 0
        self.unexpected_disconnects = 0
        self.close_codes: Counter[int] = Counter()
        self.closing = False
        self.first_send: float | None = None
        self.last_answer: float | None = None


class Session(WSListener):  # type: ignore[misc]
    """One widget connection: the client half of protocol v1 that the benchmark needs."""

    def __init__(self, phase: Phase) -> None:
        super().__init__()
        self.phase = phase
        self.transport: WSTransport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending: dict[str, float] = {}  # client_id -> send time
        self.sent_at_seq: dict[int, float] = {}  # acked customer seq -> send time, until the reply
        self.early_replies: dict[int, float] = {}  # bot reply seen before its message's ack
        self.tokens_seen: set[int] = set()
        self.closed = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if self.phase.kind == "echo":
            self.ready.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        now = time.perf_counter()
        if frame.msg_type == WSMsgType.TEXT:
            self._on_text(frame.get_payload_as_bytes(), now)
        elif frame.msg_type == WSMsgType.CLOSE:
            self.phase.close_codes[int(frame.get_close_code())] += 1
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
        else:
            self.phase.frames[f"ws:{frame.msg_type.name}"] += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the session frame"))
        if not self.phase.closing:
            self.phase.unexpected_disconnects += 1

    def send_message(self, text: str) -> None:
        assert self.transport is not None
        client_id = uuid.uuid4().hex
        payload = json.dumps({"type": "message", "client_id": client_id, "text": text}).encode()
        sent = time.perf_counter()
        self.pending[client_id] = sent
        self.phase.sent += 1
        if self.phase.first_send is None:
            self.phase.first_send = sent
        self.transport.send(WSMsgType.TEXT, payload)

    def _answered(self, client_id: str, now: float) -> float | None:
        sent = self.pending.pop(client_id, None)
        if sent is None:
            self.phase.unmatched += 1
            return None
        self.phase.ack_s.append(now - sent)
        self.phase.answered += 1
        self.phase.last_answer = now
        return sent

    def _on_text(self, payload: bytes, now: float) -> None:
        phase = self.phase
        try:
            data = json.loads(payload)
        except ValueError:
            phase.frames["not_json"] += 1
            return
        if phase.kind == "echo":
            phase.frames["echo"] += 1
            self._answered(str(data.get("client_id")), now)
            return
        kind = data.get("type")
        phase.frames[str(kind)] += 1
        if kind == "ack":
            sent = self._answered(str(data.get("client_id")), now)
            if sent is not None:
                seq = int(data["seq"])
                early = self.early_replies.pop(seq, None)
                if early is not None:
                    self._replied(early - sent, early)
                else:
                    self.sent_at_seq[seq] = sent
        elif kind == "token":
            reply_to = data.get("reply_to")
            if reply_to not in self.tokens_seen:
                self.tokens_seen.add(reply_to)
                sent = self.sent_at_seq.get(reply_to)
                if sent is not None:
                    phase.first_token_s.append(now - sent)
        elif kind == "message":
            if data.get("sender") == "bot":
                reply_to = data.get("reply_to")
                sent = self.sent_at_seq.pop(reply_to, None)
                if sent is not None:
                    self._replied(now - sent, now)
                elif reply_to is not None:
                    self.early_replies[int(reply_to)] = now
        elif kind == "session":
            if not self.ready.done():
                self.ready.set_result(None)
        elif kind == "error":
            phase.errors[str(data.get("code"))] += 1

    def _replied(self, elapsed: float, now: float) -> None:
        self.phase.reply_s.append(elapsed)
        self.phase.replies += 1


async def open_session(
    url: str,
    phase: Phase,
    headers: dict[str, str],
    limit_s: float,
    factory: Callable[[Phase], Session] = Session,
) -> tuple[Session | None, float, str]:
    """Connect and (chat) wait for the `session` frame: (session or None, seconds, failure reason).

    `factory` makes the listener (a `Session` subclass for clients that track more)."""
    started = time.perf_counter()
    listener: Session | None = None
    try:
        async with asyncio.timeout(limit_s):
            _, listener = await picows.ws_connect(
                lambda: factory(phase), url, extra_headers=headers, websocket_handshake_timeout=limit_s
            )
            assert listener is not None
            await listener.ready
        return listener, time.perf_counter() - started, ""
    except picows.WSHandshakeError as exc:
        reason = f"http_{int(exc.response.status)}" if exc.response is not None else "handshake_error"
    except TimeoutError:
        reason = "timeout"
    except ConnectionError as exc:
        reason = type(exc).__name__
    except OSError as exc:
        reason = f"oserror_{exc.errno}"
    if listener is not None and listener.transport is not None:
        listener.transport.disconnect(graceful=False)
    return None, time.perf_counter() - started, reason


async def connect_all(
    url: str,
    phase: Phase,
    headers: dict[str, str],
    n: int,
    batch: int,
    limit_s: float,
    *,
    per_s: float | None = None,
    factory: Callable[[Phase], Session] = Session,
) -> tuple[list[Session | None], dict[str, Any]]:
    """Open `n` sessions, `batch` at once (with `per_s`, paced to that many a second); a failed one
    is None in the list, which keeps the order they were asked for."""
    sessions: list[Session | None] = []
    seconds: list[float] = []
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    for number, first in enumerate(range(0, n, batch)):
        if per_s is not None and (delay := started + number * batch / per_s - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        results = await asyncio.gather(
            *(open_session(url, phase, headers, limit_s, factory) for _ in range(min(batch, n - first)))
        )
        for session, elapsed, reason in results:
            sessions.append(session)
            if session is None:
                failures[reason] += 1
            else:
                seconds.append(elapsed)
    wall = time.perf_counter() - started
    stats = {
        "ok": len(seconds),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "wall_s": round(wall, 2),
        "per_s": round(len(seconds) / wall, 1) if wall else None,
        "latency_ms": latency_ms(seconds),
    }
    return sessions, stats


async def close_all(sessions: list[Session | None], phase: Phase, limit_s: float = 10) -> None:
    phase.closing = True
    live = [s for s in sessions if s is not None and s.transport is not None and not s.closed]
    for session in live:
        assert session.transport is not None
        session.transport.send_close(WSCloseCode.OK)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit_s):
            await asyncio.gather(
                *(s.transport.wait_disconnected() for s in live if s.transport is not None), return_exceptions=True
            )
    for session in live:
        if session.transport is not None and not session.closed:
            session.transport.disconnect(graceful=False)


def send_schedule(n: int, rate: float, duration: float, seed: int) -> list[tuple[float, int, str]]:
    """(seconds from start, session index, question): each session every 1/rate s, random phase."""
    rng = random.Random(seed)
    interval = 1 / rate
    schedule = []
    for index in range(n):
        at = rng.uniform(0, interval)
        while at < duration:
            schedule.append((at, index, rng.choice(QUESTIONS)))
            at += interval
    schedule.sort()
    return schedule


async def wait_until(predicate: Callable[[], bool], limit_s: float, poll: float = 0.02) -> bool:
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        if predicate():
            return True
        await asyncio.sleep(poll)
    return predicate()


async def loop_lag_monitor(samples: list[float], stop: asyncio.Event, period: float = 0.01) -> None:
    """How late this client's own event loop wakes up: shows whether the client is the bottleneck."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(period)
        samples.append(time.perf_counter() - before - period)


async def run_load(
    sessions: list[Session | None],
    phase: Phase,
    schedule: list[tuple[float, int, str]],
    duration: float,
    drain: float,
    want_replies: bool,
) -> dict[str, Any]:
    lateness: list[float] = []
    lag: list[float] = []
    stop = asyncio.Event()
    monitor = asyncio.create_task(loop_lag_monitor(lag, stop))
    skipped = 0
    start = time.perf_counter() + 0.1
    for offset, index, question in schedule:
        target = start + offset
        delay = target - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        session = sessions[index]
        if session is None or session.closed:
            skipped += 1
            continue
        lateness.append(max(0.0, time.perf_counter() - target))
        session.send_message(question)
    send_end = time.perf_counter()
    # Drain: wait (bounded) for the answers still on their way.
    live = [s for s in sessions if s is not None]

    def drained() -> bool:
        outstanding = sum(len(s.pending) for s in live if not s.closed)
        return not outstanding and not (want_replies and phase.replies < phase.answered)

    await wait_until(drained, drain, poll=0.05)
    stop.set()
    await monitor
    span = (phase.last_answer or send_end) - (phase.first_send or start)
    result: dict[str, Any] = {
        "sent": phase.sent,
        "skipped_dead_sessions": skipped,
        "offered_msgs_per_s": round(phase.sent / duration, 1),
        "answered": phase.answered,
        "unanswered": phase.sent - phase.answered,
        "achieved_msgs_per_s": round(phase.answered / span, 1) if span > 0 else None,
        "latency_ms": latency_ms(phase.ack_s),
        "error_frames": dict(phase.errors),
        "unmatched_frames": phase.unmatched,
        "unexpected_disconnects": phase.unexpected_disconnects,
        "close_codes_from_server": {str(k): v for k, v in phase.close_codes.items()},
        "client": {
            "send_lateness_ms": {
                "p99": round(_rank(sorted(lateness), 99) * 1000, 2) if lateness else None,
                "max": round(max(lateness) * 1000, 2) if lateness else None,
            },
            "loop_lag_ms": {
                "p99": round(_rank(sorted(lag), 99) * 1000, 2) if lag else None,
                "max": round(max(lag) * 1000, 2) if lag else None,
            },
        },
        "drain_s": round(time.perf_counter() - send_end, 2),
    }
    if want_replies:
        result["replies"] = {
            "expected": phase.answered,
            "received": phase.replies,
            "latency_ms": latency_ms(phase.reply_s),
            "first_token_ms": latency_ms(phase.first_token_s),
        }
        result["frames"] = dict(phase.frames)
    return result


# --- the stack -----------------------------------------------------------------------------------


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_nofile() -> dict[str, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 16
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft": soft, "hard": hard}


@contextlib.contextmanager
def tracking(started: list[processes.Process]) -> Iterator[None]:
    """Remember every process the helpers start, so a helper that times out leaves none behind."""
    original = processes.Process.start

    def start(self: processes.Process) -> processes.Process:
        started.append(self)
        return original(self)

    processes.Process.start = start  # type: ignore[method-assign]
    try:
        yield
    finally:
        processes.Process.start = original  # type: ignore[method-assign]


class Stack:
    """PostgreSQL database + Redis db + uvicorn (`args.web_workers` processes) + one Celery worker,
    all on loopback."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started: list[processes.Process] = []
        self.server: processes.Process | None = None
        self.worker: processes.Process | None = None
        self.port = 0
        self.env: dict[str, str] = {}
        self.notes: list[str] = []

    def start(self) -> None:
        args = self.args
        log("ensuring PostgreSQL and Redis run (.ci/services)")
        subprocess.run(["bash", str(ROOT / ".ci" / "services")], check=True, stdout=sys.stderr, timeout=120)
        self._database()
        self._redis_flush()
        self.env = processes.base_env(
            DATABASE_URL=args.database_url,
            REDIS_URL=args.redis_url,
            CHATBOT_BENCH_ECHO="1",
            CHATBOT_DEMO_ORIGINS=args.origin,
            # Every session comes from this one address at a load no visitor makes: the benchmark
            # measures capacity, so the abuse limits are off (--server-env turns them back on).
            **RATE_LIMITS_OFF,
            **dict(item.split("=", 1) for item in args.server_env),
        )
        name = urlsplit(args.database_url).path.lstrip("/")
        log(f"migrating database {name}")
        processes.manage("migrate", "--no-input", "-v0", env=self.env)
        if "bench" in name:
            # Earlier runs' visitors and conversations would make every run a little different.
            log(f"flushing database {name}")
            processes.manage("flush", "--no-input", "-v0", env=self.env)
        else:
            self.notes.append(f"database {name!r} was not flushed (its name does not contain 'bench')")
        log("demo_setup --no-admin (embeds the demo FAQ)")
        processes.manage("demo_setup", "--no-admin", env=self.env)
        with tracking(self.started):
            self.port = processes.free_port()
            log(f"starting uvicorn on 127.0.0.1:{self.port} ({self.web_workers} process(es))")
            self.server = self._asgi_server()
            if getattr(self.args, "worker", True):
                log("starting the Celery worker (inference queue); loading takes a while")
                self.worker = processes.celery_worker(
                    self.env, queues="inference", concurrency=int(getattr(self.args, "worker_concurrency", 1))
                )
        log(f"server log {self.server.log}, worker log {self.worker.log if self.worker else None}")

    @property
    def web_workers(self) -> int:
        return int(getattr(self.args, "web_workers", 1))

    def _asgi_server(self) -> processes.Process:
        if self.web_workers == 1:
            return processes.asgi_server(self.env, self.port)
        # uvicorn's supervisor and its worker processes share one process group, so groups()
        # meters them all. Ready once every worker has started and /healthz answers.
        command = processes.uvicorn_command("chatbot.asgi:application", self.port, "--workers", str(self.web_workers))
        server = processes.Process("uvicorn", command, self.env).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            started = server.log.read_text(errors="replace").count("Started server process")
            if started >= self.web_workers:
                health = f"http://127.0.0.1:{self.port}/healthz"
                with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200:
                        return server
            if not server.alive():
                raise RuntimeError(f"uvicorn exited early:\n{server.output()}")
            time.sleep(0.2)
        raise TimeoutError(f"uvicorn did not start {self.web_workers} workers:\n{server.output()}")

    def _database(self) -> None:
        import psycopg
        from psycopg import sql

        parts = urlsplit(self.args.database_url)
        name = parts.path.lstrip("/")
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                log(f"creating database {name}")
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def _redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.args.redis_url, socket_timeout=10)

    def _redis_flush(self) -> None:
        client = self._redis()
        log(f"FLUSHDB on {self.args.redis_url}")
        client.flushdb()
        client.close()

    def purge_inference_queue(self) -> int:
        """Drop replies still queued for the worker, so the next phase starts on a quiet machine."""
        client = self._redis()
        try:
            keys = [k for k in client.scan_iter(match="inference*", count=1000) if client.type(k) == b"list"]
            count = sum(int(client.llen(k)) for k in keys)
            if keys:
                client.delete(*keys)
            return count
        finally:
            client.close()

    async def wait_quiet(self, limit_s: float) -> dict[str, Any]:
        """Wait (bounded) until the server and the worker are idle, dropping queued replies meanwhile."""
        started = time.perf_counter()
        purged = 0
        groups = self.groups()
        quiet = False
        while True:
            purged += self.purge_inference_queue()
            before = {g: _group_cpu(pgid) for g, pgid in groups.items()}
            await asyncio.sleep(0.5)
            busy = {g: (_group_cpu(pgid) - before[g]) / 0.5 for g, pgid in groups.items()}
            if all(v < 0.1 for v in busy.values()):
                quiet = True
                break
            if time.perf_counter() - started > limit_s:
                break
        return {"quiet": quiet, "waited_s": round(time.perf_counter() - started, 1), "purged_reply_backlog": purged}

    def db_now(self) -> Any:
        import psycopg

        with psycopg.connect(self.args.database_url, connect_timeout=10) as conn:
            row = conn.execute("SELECT now()").fetchone()
        return row[0] if row else None

    def reply_timings(self, since: Any) -> dict[str, Any]:
        """The worker's own timings of the replies stored since `since` (Message.timings, ms)."""
        import psycopg

        with psycopg.connect(self.args.database_url, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT timings FROM conversations_message WHERE sender = 'bot' AND created_at >= %s", (since,)
            ).fetchall()
        timings = [row[0] for row in rows if isinstance(row[0], dict)]

        def stat(values: list[float]) -> dict[str, Any]:
            return {k: v for k, v in latency_ms([v / 1000 for v in values]).items() if k in ("n", "p50", "p99")}

        return {
            "queue": stat([t["queue"] for t in timings if "queue" in t]),
            "retrieval": stat([t["retrieval"] for t in timings if "retrieval" in t]),
            "task": stat([t["total"] - t["queue"] for t in timings if "total" in t and "queue" in t]),
        }

    def log_offsets(self) -> dict[str, int]:
        return {p.name: p.log.stat().st_size for p in (self.server, self.worker) if p is not None}

    def log_summary(self, since: dict[str, int] | None = None) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for process in (self.server, self.worker):
            if process is None:
                continue
            with process.log.open("rb") as handle:
                handle.seek((since or {}).get(process.name, 0))
                text = handle.read().decode(errors="replace")
            lines = text.split("\n")  # not splitlines(): progress bars use \r inside a line
            problems = [
                line
                for line in lines
                if any(w in line for w in PROBLEM_MARKERS) and not any(n in line for n in NOISE_MARKERS)
            ]
            refused = sum("refused widget handshake" in line for line in lines)
            denied = sum(bool(WS_403.search(line)) for line in lines)
            samples = list(dict.fromkeys(line.strip()[:240] for line in problems))[:6]
            summary[process.name] = {
                "lines": len(lines),
                "error_or_warning_lines": len(problems),
                "tracebacks": sum("Traceback" in line for line in lines),
                "refused_handshakes": refused,
                "websocket_403": denied,
                "samples": samples,
            }
        return summary

    def groups(self) -> dict[str, int]:
        groups = {}
        if self.server is not None and self.server.popen is not None:
            groups["server"] = self.server.popen.pid
        if self.worker is not None and self.worker.popen is not None:
            groups["worker"] = self.worker.popen.pid
        return groups

    def stop(self, keep_logs: bool) -> None:
        for process in reversed(self.started):
            with contextlib.suppress(Exception):
                process.stop()
        for process in self.started:
            if not keep_logs:
                with contextlib.suppress(OSError):
                    process.log.unlink()


# --- the benchmark -----------------------------------------------------------------------------------


async def warm_up(chat_url: str, echo_url: str, headers: dict[str, str], limit_s: float) -> dict[str, Any]:
    """One chat question answered end to end (worker model loaded, connections open) and one echo."""
    phase = Phase("chat")
    started = time.perf_counter()
    session, connect_s, reason = await open_session(chat_url, phase, headers, limit_s)
    result: dict[str, Any] = {"connect_ms": round(connect_s * 1000, 1), "failure": reason or None}
    if session is not None:
        session.send_message(QUESTIONS[0])
        await wait_until(lambda: phase.replies >= 1 or session.closed, limit_s)
        result.update(
            {
                "ack_ms": latency_ms(phase.ack_s)["max"],
                "reply_ms": latency_ms(phase.reply_s)["max"],
                "errors": dict(phase.errors),
            }
        )
        await close_all([session], phase)
    echo_phase = Phase("echo")
    echo, _, echo_reason = await open_session(echo_url, echo_phase, headers, limit_s)
    if echo is not None:
        echo.send_message(QUESTIONS[0])
        await wait_until(lambda: echo_phase.answered >= 1, 10)
        result["echo_ms"] = latency_ms(echo_phase.ack_s)["max"]
        await close_all([echo], echo_phase)
    else:
        result["echo_failure"] = echo_reason
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


async def bench(args: argparse.Namespace, base_url: str, stack: Stack | None) -> dict[str, Any]:
    headers = {"Origin": args.origin, "User-Agent": USER_AGENT}
    chat_url = f"{base_url}/ws/chat/?site={quote(args.site)}&page={quote(PAGE_URL, safe='')}"
    echo_url = f"{base_url}/ws/echo/"
    meter = CpuMeter(stack.groups() if stack else {})

    log("warm-up: one question answered end to end")
    warm = await warm_up(chat_url, echo_url, headers, args.connect_timeout * 4)
    log(f"warm-up: {warm}")
    if warm.get("failure"):
        raise RuntimeError(f"cannot open a chat session ({warm['failure']}); is the origin {args.origin} allowed?")

    levels = []
    for n in args.sessions:
        rate = args.total_rate / n if args.total_rate else args.rate
        schedule = send_schedule(n, rate, args.duration, seed=args.seed + n)
        level: dict[str, Any] = {"sessions": n, "rate_per_session": round(rate, 4), "scheduled_msgs": len(schedule)}
        # The echo runs first: a chat phase that overloads the server leaves work behind (queued
        # messages, replies) that would otherwise slow the baseline measured after it.
        for kind, url in (("echo", echo_url), ("chat", chat_url)):
            phase = Phase(kind)
            quiet = await stack.wait_quiet(args.quiet_timeout) if stack else None
            if quiet is None:
                await asyncio.sleep(args.settle)
            elif not quiet["quiet"]:
                log(f"N={n} {kind}: the server is still busy after {quiet['waited_s']} s; measuring anyway")
            offsets = stack.log_offsets() if stack else {}
            db_clock = stack.db_now() if stack else None
            log(f"N={n} {kind}: connecting")
            sessions, connect = await connect_all(url, phase, headers, n, args.connect_batch, args.connect_timeout)
            log(f"N={n} {kind}: {connect['ok']} connected in {connect['wall_s']} s, failures {connect['failures']}")
            before = meter.snapshot()
            log(f"N={n} {kind}: {len(schedule)} messages over {args.duration} s")
            load = await run_load(sessions, phase, schedule, args.duration, args.drain, want_replies=kind == "chat")
            cpu = meter.delta(before, meter.snapshot())
            await close_all(sessions, phase)
            entry: dict[str, Any] = {"before": quiet, "connect": connect, **load, "cpu": cpu}
            if kind == "chat" and stack is not None:
                entry["worker_reply_timings_ms"] = stack.reply_timings(db_clock)
                entry["purged_reply_backlog"] = stack.purge_inference_queue()
            if stack is not None:
                entry["server_logs"] = stack.log_summary(offsets)
            level[kind] = entry
            lat = load["latency_ms"]
            extra = ""
            if kind == "chat":
                extra = f", replies {load['replies']['received']}/{load['replies']['expected']}"
            log(
                f"N={n} {kind}: {load['answered']}/{load['sent']} answered, "
                f"{load['achieved_msgs_per_s']} msg/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms{extra}"
            )
        chat, echo = level["chat"], level["echo"]
        level["summary"] = {
            "msgs_per_s": chat["achieved_msgs_per_s"],
            "ack_ms": {k: chat["latency_ms"][k] for k in ("p50", "p95", "p99")},
            "echo_ms": {k: echo["latency_ms"][k] for k in ("p50", "p95", "p99")},
            "echo_msgs_per_s": echo["achieved_msgs_per_s"],
            "ratio_chat_over_echo": {
                "p50": ratio(chat["latency_ms"]["p50"], echo["latency_ms"]["p50"]),
                "p99": ratio(chat["latency_ms"]["p99"], echo["latency_ms"]["p99"]),
            },
            "reply_ms": {k: chat["replies"]["latency_ms"][k] for k in ("p50", "p99")},
            "replies_received": chat["replies"]["received"],
            "replies_expected": chat["replies"]["expected"],
            "acks_missing_after_drain": chat["unanswered"],
            "echoes_missing_after_drain": echo["unanswered"],
            "errors": {
                "error_frames": sum(chat["error_frames"].values()) + sum(echo["error_frames"].values()),
                "unexpected_disconnects": chat["unexpected_disconnects"] + echo["unexpected_disconnects"],
                "unmatched_frames": chat["unmatched_frames"] + echo["unmatched_frames"],
            },
            "connect_failures": {"chat": chat["connect"]["failed"], "echo": echo["connect"]["failed"]},
            "chat_connect_ms": {k: chat["connect"]["latency_ms"][k] for k in ("p50", "p99")},
            "echo_connect_ms": {k: echo["connect"]["latency_ms"][k] for k in ("p50", "p99")},
        }
        levels.append(level)
    return {"warm_up": warm, "levels": levels}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sessions", default="10,100,1000", help="comma-separated session counts (default %(default)s)"
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds of sending per phase (default %(default)s)")
    parser.add_argument("--rate", type=float, default=0.2, help="messages/s per session (default %(default)s)")
    parser.add_argument(
        "--total-rate", type=float, default=None, help="messages/s over all sessions (overrides --rate)"
    )
    parser.add_argument("--drain", type=float, default=10, help="max seconds to wait for answers after sending")
    parser.add_argument("--settle", type=float, default=1, help="seconds between phases with --url")
    parser.add_argument(
        "--quiet-timeout", type=float, default=30, help="max seconds to wait for an idle server between phases"
    )
    parser.add_argument(
        "--connect-batch", type=int, default=50, help="connections opened at once (default %(default)s)"
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=30, help="seconds per connection (default %(default)s)"
    )
    parser.add_argument("--url", help="target a running server, e.g. ws://127.0.0.1:8000 (loopback only)")
    parser.add_argument("--origin", default=None, help=f"Origin header (default {DEFAULT_ORIGIN}, or the --url's own)")
    parser.add_argument("--site", default="demo", help="site key (default %(default)s)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="(default %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="flushed at start (default %(default)s)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE", help="extra server env")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the send pattern (default %(default)s)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server and worker logs")
    args = parser.parse_args(argv)
    args.sessions = [int(x) for x in args.sessions.split(",") if x.strip()]
    if not args.sessions or min(args.sessions) < 1:
        parser.error("--sessions needs positive integers")
    if args.web_workers < 1:
        parser.error("--web-workers must be at least 1")
    if args.duration <= 0 or args.rate <= 0 or (args.total_rate is not None and args.total_rate <= 0):
        parser.error("--duration, --rate and --total-rate must be positive")
    for item in args.server_env:
        if "=" not in item:
            parser.error(f"--server-env {item!r} is not KEY=VALUE")
    hosts = [urlsplit(args.database_url).hostname, urlsplit(args.redis_url).hostname]
    if args.url:
        parts = urlsplit(args.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            parser.error("--url must look like ws://127.0.0.1:8000")
        hosts.append(parts.hostname)
        args.url = urlunsplit((parts.scheme, parts.netloc, "", "", "")).rstrip("/")
        if args.origin is None:
            # The demo site allows pages served by the server itself (its own origin).
            args.origin = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
    elif args.origin is None:
        args.origin = DEFAULT_ORIGIN
    if not all(is_loopback(h) for h in hosts):
        parser.error("only loopback addresses (127.0.0.1, ::1, localhost) are allowed")
    return args


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            None,
        ),
    }


def main() -> int:
    args = parse_args()
    nofile = raise_nofile()
    # SIGTERM ends the run like Ctrl-C: the finally below stops every process we started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack: Stack | None = None
    failed = True
    launched = time.perf_counter()
    try:
        if args.url:
            base_url = args.url
        else:
            stack = Stack(args)
            stack.start()
            base_url = f"ws://127.0.0.1:{stack.port}"
        runner_kwargs: dict[str, Any] = {"loop_factory": uvloop.new_event_loop} if uvloop else {}
        started = time.time()
        startup_s = round(time.perf_counter() - launched, 1)
        with asyncio.Runner(**runner_kwargs) as runner:
            measured = runner.run(bench(args, base_url, stack))
        server_env = {
            k: ("***" if "SECRET" in k else v)
            for k, v in (stack.env if stack else {}).items()
            if k.startswith(("DJANGO_", "CHATBOT_", "DATABASE_", "REDIS_", "CELERY_"))
        }
        result = {
            "benchmark": "ws_load",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "startup_s": startup_s,
            "wall_s": round(time.time() - started, 1),
            "machine": machine_info(),
            "settings": {
                "target": base_url,
                "started_stack": stack is not None,
                "sessions": args.sessions,
                "duration_s": args.duration,
                "rate_per_session": None if args.total_rate else args.rate,
                "total_rate": args.total_rate,
                "send_pattern": "open loop, fixed interval per session, seeded random phase; same for chat and echo",
                "phase_order": "per N: echo, then chat; each after the server and worker are idle (bounded wait)",
                "drain_s": args.drain,
                "connect_batch": args.connect_batch,
                "connect_timeout_s": args.connect_timeout,
                "origin": args.origin,
                "site": args.site,
                "questions": len(QUESTIONS),
                "seed": args.seed,
                "client": {
                    "library": f"picows {picows.__version__}",
                    "origin_header": "picows extra_headers",
                    "event_loop": f"uvloop {uvloop.__version__}" if uvloop else "asyncio",
                    "processes": 1,
                },
                "rlimit_nofile": nofile,
                "server": {
                    "uvicorn_processes": args.web_workers,
                    "celery_worker": "1 process, --concurrency 1, queue inference" if stack else None,
                    "env": server_env,
                }
                if stack
                else None,
            },
            "summary": [{"sessions": level["sessions"], **level["summary"]} for level in measured["levels"]],
            **measured,
            "notes": (stack.notes if stack else [])
            + [
                "latency = client send -> matching frame received, ms; chat answer = ack, echo answer = echoed frame",
                "ratio_chat_over_echo = chat ack latency / echo round-trip latency at the same load shape",
                "cpu_pct_of_one_core: CPU used during the sending+drain window; 100 = one core fully busy",
                "purged_reply_backlog: bot replies still queued for the worker after the drain, dropped",
                "worker_reply_timings_ms: from the stored replies' timings (queue wait, retrieval, task run time)",
            ],
        }
        if stack is not None:
            result["server_logs_whole_run"] = stack.log_summary()
        print(json.dumps(result, indent=2))
        failed = False
        return 0
    except KeyboardInterrupt:
        log("interrupted; stopping the processes")
        return 130
    finally:
        if stack is not None:
            if failed:
                for process in stack.started:
                    log(f"{process.name} log kept: {process.log}")
            stack.stop(keep_logs=args.keep_logs or failed)


if __name__ == "__main__":
    sys.exit(main())
