"""Capacity of one web process: closed-loop widget sessions against a bare echo on the same server.

    python bench/capacity.py [--sessions 100,1000] [--duration 15] [--warm 3] [--responder none|echo|faq]
                             [--target-rate 1000] [--web-workers 1] [--server-env KEY=VALUE ...]
                             [--profile DIR] [--consoles N]

It starts the distributed stack on loopback the way `ws_load.py` does (database `chatbot_bench`
flushed, migrated and set up; Redis db 13 flushed; uvicorn with DJANGO_DEBUG=0 and the abuse limits
off). For each number of sessions N it opens N widget sessions and runs them **closed loop**: each
session sends its next message as soon as the last one was acked, so the server is always as busy as
N clients can make it and the ack rate is its capacity. The same N sessions then run the same loop
against `/ws/echo/` on the same server (send -> echoed frame). Both phases run for --warm seconds
unmeasured, then --duration seconds measured; the server is idle before each.

With `--target-rate R` (default 1000), one more phase runs open loop at the largest N: R messages a
second in all, each session on its own fixed schedule (ws_load's send pattern). A closed loop cannot
show the latency at a given rate: with N sessions and no think time, N / acks-per-second is the mean
ack time by Little's law (1,000 sessions at 1,000 acks/s wait 1 s each, however fast the server).

Every chat message is checked: acked once, with a `seq` higher than the session's last one, and in
the database afterwards (each acked `client_id` stored exactly once as a customer message, with the
acked seq, and every conversation's seqs 1..last with no gap). `lost` counts messages acked and not
stored (or stored with another seq); `duplicated` counts client_ids stored twice or acked twice.
Messages still unacked when the drain ends are `unanswered` (an overloaded server had not got to
them when the sessions closed; the widget sends an unacked message again when it reconnects).

`--responder none` (default) runs no Celery worker: the replies the server queues wait in Redis and
are dropped between phases (the reply sweeper is off), so the figures are the web process's own:
frame in, limits, commit, ack, publish, reply queued. `echo` and `faq` add a worker
(CHATBOT_RESPONDER) on the same 2 cores.

`--consoles N` keeps N operator consoles open on the demo site through the open loop (one
operator, made by `console_user`, signed in with a session made in `manage.py shell`), each reading
the live inbox: every stored message changes a conversation, and the consoles are told.
`open_loop.consoles` gives how many frames each received.

`--profile DIR` samples the uvicorn process with py-spy during every phase, the open loop's too
(only the thread holding the GIL, i.e. where the Python time goes), and writes a flame graph
(`chat-100.svg`, ..., `open-1000.svg`) and its collapsed stacks (`chat-100.txt`, ...) per phase
into DIR.

Prints one JSON object on stdout; progress on stderr. A benchmark: it exits 0 once it has measured
(1 when something was lost or duplicated, or the run failed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ws_load  # noqa: E402
from ws_load import (  # noqa: E402
    PAGE_URL,
    QUESTIONS,
    USER_AGENT,
    CpuMeter,
    Phase,
    Session,
    Stack,
    close_all,
    connect_all,
    latency_ms,
    log,
    machine_info,
    raise_nofile,
    ratio,
    run_load,
    send_schedule,
    wait_until,
)

from tests import processes  # noqa: E402

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None


class LoopPhase(Phase):
    """A phase whose sessions send again as soon as they are answered, while `running`; answers and
    latencies count only inside the measured window."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.running = False
        self.measuring = False
        self.window_answers = 0
        self.window_ack_s: list[float] = []
        self.acked_seqs: dict[str, int] = {}  # client_id -> seq (chat)
        self.out_of_order = 0
        self.acked_twice = 0
        # Ack times of each session's messages after its first (which starts a conversation, the
        # slower path): the steady state, without the burst of 1,000 conversations starting at once.
        self.later_ack_s: list[float] = []
        self.acks_by_send: list[tuple[float, float]] = []  # (sent at, ack time) of every message


class LoopSession(Session):
    """A widget (or echo) connection that keeps one message in flight."""

    phase: LoopPhase

    def __init__(self, phase: Phase) -> None:
        super().__init__(phase)
        first = random.randrange(len(QUESTIONS))
        self.questions = itertools.cycle(QUESTIONS[first:] + QUESTIONS[:first])
        self.last_seq = 0
        self.answered_count = 0

    def _answered(self, client_id: str, now: float) -> float | None:
        sent = super()._answered(client_id, now)
        if sent is not None:
            self.answered_count += 1
            if self.answered_count > 1:
                self.phase.later_ack_s.append(now - sent)
            self.phase.acks_by_send.append((sent, now - sent))
        if sent is not None and self.phase.measuring:
            self.phase.window_answers += 1
            self.phase.window_ack_s.append(now - sent)
        return sent

    def _on_text(self, payload: bytes, now: float) -> None:
        phase = self.phase
        if phase.kind == "chat":
            data = json.loads(payload)
            if data.get("type") == "ack":
                client_id, seq = str(data.get("client_id")), int(data["seq"])
                if client_id in phase.acked_seqs:
                    phase.acked_twice += 1
                phase.acked_seqs[client_id] = seq
                if seq <= self.last_seq:
                    phase.out_of_order += 1
                self.last_seq = seq
        super()._on_text(payload, now)
        if phase.running and not self.pending and not self.closed and self.ready.done():
            self.send_message(next(self.questions))

    def start(self) -> None:
        if not self.closed:
            self.send_message(next(self.questions))


async def closed_loop(
    sessions: list[LoopSession | None], phase: LoopPhase, warm: float, duration: float, drain: float
) -> dict[str, Any]:
    live = [s for s in sessions if s is not None]
    phase.running = True
    started = time.perf_counter()
    for session in live:
        session.start()
    # Every session's first message starts its conversation (the slower path): the window opens
    # once each has been answered, and --warm seconds after that.
    await wait_until(lambda: phase.answered >= 2 * len(live), max(60.0, 0.2 * len(live)), poll=0.05)
    first_answers_s = time.perf_counter() - started
    await asyncio.sleep(warm)
    answered_before = phase.answered
    phase.measuring = True
    started = time.perf_counter()
    await asyncio.sleep(duration)
    phase.measuring = False
    window = time.perf_counter() - started
    phase.running = False
    await wait_until(lambda: not any(s.pending for s in live if not s.closed), drain, poll=0.05)
    unanswered = sum(len(s.pending) for s in live)
    return {
        "first_two_answers_of_every_session_s": round(first_answers_s, 2),
        "answers_in_window": phase.window_answers,
        "window_s": round(window, 2),
        "answers_per_s": round(phase.window_answers / window, 1),
        "latency_ms": latency_ms(phase.window_ack_s),
        "sent": phase.sent,
        "answered": phase.answered,
        "answered_before_window": answered_before,
        "unanswered_after_drain": unanswered,
        "error_frames": dict(phase.errors),
        "unexpected_disconnects": phase.unexpected_disconnects,
        "unmatched_frames": phase.unmatched,
    }


def profile_start(args: argparse.Namespace, stack: Stack, name: str) -> subprocess.Popen[bytes]:
    """py-spy on the uvicorn process over the phase (warm-up included), sampling the thread that
    holds the GIL: where the Python time goes. Writes `name`.svg (a flame graph) and `name`.txt
    (collapsed stacks, for grep) into --profile."""
    assert stack.server is not None and stack.server.popen is not None
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    seconds = str(int(args.warm + args.duration + 5))
    pid = str(stack.server.popen.pid)
    common = ["record", "-p", pid, "-d", seconds, "-r", "200", "--gil", "--nonblocking"]
    spy = str(Path(sys.executable).parent / "py-spy")
    log(f"profiling {name} into {out}")
    subprocess.Popen([spy, *common, "-f", "raw", "-o", str(out / f"{name}.txt")], stdout=subprocess.DEVNULL)
    return subprocess.Popen(
        [spy, *common, "-f", "flamegraph", "-o", str(out / f"{name}.svg")], stdout=subprocess.DEVNULL
    )


def database_check(stack: Stack, phase: LoopPhase) -> dict[str, Any]:
    """Each acked client_id stored once with its acked seq; every conversation's seqs gapless. With
    the phase's `lost` (acked, and not stored or stored with another seq) and `duplicated` (a
    client_id stored twice, or acked twice)."""
    import psycopg

    with psycopg.connect(stack.args.database_url, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT client_id, seq FROM conversations_message WHERE sender = 'customer' AND client_id <> ''"
        ).fetchall()
        gaps = conn.execute(
            """SELECT count(*) FROM (
                   SELECT conversation_id, count(*) AS n, max(seq) AS top, min(seq) AS low
                   FROM conversations_message GROUP BY conversation_id) AS c
               WHERE n <> top OR low <> 1"""
        ).fetchone()
    stored: dict[str, list[int]] = {}
    for client_id, seq in rows:
        stored.setdefault(client_id, []).append(seq)
    not_stored = sum(1 for c in phase.acked_seqs if c not in stored)
    seq_mismatch = sum(1 for c, seq in phase.acked_seqs.items() if c in stored and stored[c] != [seq])
    stored_twice = sum(1 for seqs in stored.values() if len(seqs) > 1)
    return {
        "customer_messages_stored": len(rows),
        "acked_not_stored": not_stored,
        "acked_seq_differs_from_stored": seq_mismatch,
        "client_ids_stored_twice": stored_twice,
        "conversations_with_seq_gaps": int(gaps[0]) if gaps else None,
        "lost": not_stored + seq_mismatch,
        "duplicated": stored_twice + phase.acked_twice,
    }


async def measure(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    base_url = f"ws://127.0.0.1:{stack.port}"
    headers = {"Origin": args.origin, "User-Agent": USER_AGENT}
    chat_url = f"{base_url}/ws/chat/?site={quote(args.site)}&page={quote(PAGE_URL, safe='')}"
    echo_url = f"{base_url}/ws/echo/"
    meter = CpuMeter(stack.groups())
    levels = []
    lost = duplicated = 0
    for n in args.sessions:
        level: dict[str, Any] = {"sessions": n}
        for kind, url in (("echo", echo_url), ("chat", chat_url)):
            quiet = await stack.wait_quiet(args.quiet_timeout)
            phase = LoopPhase(kind)
            offsets = stack.log_offsets()
            log(f"N={n} {kind}: connecting")
            sessions, connect = await connect_all(
                url, phase, headers, n, args.connect_batch, args.connect_timeout, factory=LoopSession
            )
            log(f"N={n} {kind}: {connect['ok']} connected in {connect['wall_s']} s, failures {connect['failures']}")
            before = meter.snapshot()
            profiler = profile_start(args, stack, f"{kind}-{n}") if args.profile else None
            loop = await closed_loop(sessions, phase, args.warm, args.duration, args.drain)  # type: ignore[arg-type]
            cpu = meter.delta(before, meter.snapshot())
            if profiler is not None:
                profiler.wait(timeout=60)
            await close_all(sessions, phase)
            entry: dict[str, Any] = {"before": quiet, "connect": connect, **loop, "cpu": cpu}
            if kind == "chat":
                entry["order"] = {"acks_out_of_order": phase.out_of_order, "acked_twice": phase.acked_twice}
                entry["database"] = database_check(stack, phase)
                entry["purged_reply_backlog"] = stack.purge_inference_queue()
                lost += entry["database"]["lost"]
                duplicated += entry["database"]["duplicated"]
            entry["server_logs"] = stack.log_summary(offsets)
            level[kind] = entry
            lat = loop["latency_ms"]
            log(f"N={n} {kind}: {loop['answers_per_s']}/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms")
        chat, echo = level["chat"], level["echo"]
        level["capacity"] = {
            "chat_acks_per_s": chat["answers_per_s"],
            "echo_per_s": echo["answers_per_s"],
            "ratio_chat_over_echo": ratio(chat["answers_per_s"], echo["answers_per_s"]),
            "ack_ms": {k: chat["latency_ms"][k] for k in ("p50", "p99")},
            "echo_ms": {k: echo["latency_ms"][k] for k in ("p50", "p99")},
            "server_cpu_pct_of_one_core": chat["cpu"].get("server_cpu_pct_of_one_core"),
        }
        levels.append(level)
    result: dict[str, Any] = {"levels": levels}
    if args.target_rate:
        result["open_loop"] = await open_loop(args, stack, chat_url, headers, meter)
        lost += result["open_loop"]["database"]["lost"]
        duplicated += result["open_loop"]["database"]["duplicated"]
    result["lost"], result["duplicated"] = lost, duplicated
    return result


def by_second(acks_by_send: list[tuple[float, float]]) -> list[dict[str, float]]:
    """Ack p50 / p99 (ms) of the messages sent in each second of the phase: how long the
    conversation-start burst of its first second takes to work off."""
    if not acks_by_send:
        return []
    first = min(t for t, _ in acks_by_send)
    seconds: dict[int, list[float]] = {}
    for sent, ack in acks_by_send:
        seconds.setdefault(int(sent - first), []).append(ack)
    return [
        {"second": second, "n": len(acks), "p50": latency_ms(acks)["p50"], "p99": latency_ms(acks)["p99"]}
        for second, acks in sorted(seconds.items())
    ]


def second_half(acks_by_send: list[tuple[float, float]]) -> list[float]:
    """The ack times of the messages sent in the second half of the phase (by send time): the
    server's steady state, once the sessions' first messages (conversation starts) are behind it."""
    if not acks_by_send:
        return []
    first, last = min(t for t, _ in acks_by_send), max(t for t, _ in acks_by_send)
    middle = (first + last) / 2
    return [ack for sent, ack in acks_by_send if sent >= middle]


CONSOLE_LOGIN = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
call_command("console_user", "bench-console", "--role", "operator", "--site", {site!r}, "--password", "bench-console")
user = get_user_model().objects.get(username="bench-console")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print("session", session.session_key)
"""


async def consoles_open(stack: Stack, count: int) -> list[tuple[Any, asyncio.Task[int]]]:
    """`count` operator consoles on the demo site, signed in as one operator, each reading its
    frames (the live inbox) until closed; what each task returns is how many it got."""
    import websockets

    output = processes.manage("shell", "-c", CONSOLE_LOGIN.format(site=stack.args.site), env=stack.env)
    key = next(line.split()[1] for line in output.splitlines() if line.startswith("session "))
    host = f"127.0.0.1:{stack.port}"
    consoles = []
    for _ in range(count):
        socket = await websockets.connect(
            f"ws://{host}/ws/console/",
            origin=f"http://{host}",  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sessionid={key}"},
            max_size=None,
        )

        async def read(socket: Any = socket) -> int:
            frames = 0
            with contextlib.suppress(websockets.ConnectionClosed):
                async for _ in socket:
                    frames += 1
            return frames

        consoles.append((socket, asyncio.create_task(read())))
    log(f"{count} console(s) open")
    return consoles


async def consoles_close(consoles: list[tuple[Any, asyncio.Task[int]]]) -> list[int]:
    for socket, _ in consoles:
        await socket.close()
    return [await task for _, task in consoles]


async def open_loop(
    args: argparse.Namespace, stack: Stack, chat_url: str, headers: dict[str, str], meter: CpuMeter
) -> dict[str, Any]:
    """The target's shape: R messages a second in all over the largest N, each session on schedule."""
    n = max(args.sessions)
    rate = args.target_rate / n
    quiet = await stack.wait_quiet(args.quiet_timeout)
    phase = LoopPhase("chat")  # running stays False: sends follow the schedule only
    log(f"open loop: {n} sessions, {args.target_rate} msg/s in all")
    sessions, connect = await connect_all(
        chat_url, phase, headers, n, args.connect_batch, args.connect_timeout, factory=LoopSession
    )
    schedule = send_schedule(n, rate, args.duration, seed=7 + n)
    consoles = await consoles_open(stack, args.consoles) if args.consoles else []
    before = meter.snapshot()
    profiler = profile_start(args, stack, f"open-{n}") if args.profile else None
    load = await run_load(sessions, phase, schedule, args.duration, args.drain, want_replies=False)
    cpu = meter.delta(before, meter.snapshot())
    if profiler is not None:
        profiler.wait(timeout=60)
    await close_all(sessions, phase)
    console_frames = await consoles_close(consoles)
    lat = load["latency_ms"]
    log(f"open loop: {load['achieved_msgs_per_s']}/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms")
    return {
        "sessions": n,
        "offered_msgs_per_s": args.target_rate,
        "before": quiet,
        "connect": connect,
        **load,
        "latency_ms_after_first": latency_ms(phase.later_ack_s),
        "latency_ms_second_half": latency_ms(second_half(phase.acks_by_send)),
        "latency_ms_by_second": by_second(phase.acks_by_send),
        "cpu": cpu,
        **({"consoles": {"open": len(consoles), "frames_received": console_frames}} if consoles else {}),
        "order": {"acks_out_of_order": phase.out_of_order, "acked_twice": phase.acked_twice},
        "database": database_check(stack, phase),
        "purged_reply_backlog": stack.purge_inference_queue(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="100,1000", help="comma-separated session counts (default %(default)s)")
    parser.add_argument("--duration", type=float, default=15, help="measured seconds per phase (default %(default)s)")
    parser.add_argument("--warm", type=float, default=3, help="unmeasured seconds before each (default %(default)s)")
    parser.add_argument("--drain", type=float, default=20, help="max seconds to wait for the last acks")
    parser.add_argument(
        "--target-rate",
        type=float,
        default=1000,
        help="open-loop msg/s at the largest N, 0 skips (default %(default)s)",
    )
    parser.add_argument(
        "--responder",
        choices=("none", "echo", "faq"),
        default="none",
        help="none: no worker, replies stay queued; echo/faq: a Celery worker answers (default %(default)s)",
    )
    parser.add_argument("--quiet-timeout", type=float, default=30)
    parser.add_argument("--connect-batch", type=int, default=50)
    parser.add_argument("--connect-timeout", type=float, default=30)
    parser.add_argument("--site", default="demo")
    parser.add_argument("--database-url", default=ws_load.DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=ws_load.DEFAULT_REDIS_URL)
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--profile", metavar="DIR", help="py-spy flame graphs of the server per phase into DIR")
    parser.add_argument(
        "--consoles",
        type=int,
        default=0,
        help="operator consoles open on the demo site during the open loop (default %(default)s)",
    )
    args = parser.parse_args(argv)
    args.sessions = [int(x) for x in args.sessions.split(",") if x.strip()]
    if not args.sessions or min(args.sessions) < 1 or args.web_workers < 1:
        parser.error("--sessions and --web-workers need positive integers")
    if args.consoles < 0:
        parser.error("--consoles must not be negative")
    if args.duration <= 0 or args.warm < 0 or args.target_rate < 0:
        parser.error("--duration must be positive, --warm and --target-rate not negative")
    for item in args.server_env:
        if "=" not in item:
            parser.error(f"--server-env {item!r} is not KEY=VALUE")
    for url in (args.database_url, args.redis_url):
        if not ws_load.is_loopback(urlsplit(url).hostname):
            parser.error("only loopback addresses are allowed")
    args.origin = ws_load.DEFAULT_ORIGIN
    args.worker = args.responder != "none"
    if args.worker:
        args.server_env = [f"CHATBOT_RESPONDER={args.responder}", *args.server_env]
    else:
        # Nobody answers: the sweeper would queue every waiting reply again and again.
        args.server_env = ["CHATBOT_REPLY_SWEEP_INTERVAL_S=0", *args.server_env]
    return args


def main() -> int:
    args = parse_args()
    nofile = raise_nofile()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = Stack(args)
    failed = True
    try:
        stack.start()
        started = time.time()
        runner_kwargs: dict[str, Any] = {"loop_factory": uvloop.new_event_loop} if uvloop else {}
        with asyncio.Runner(**runner_kwargs) as runner:
            measured = runner.run(measure(args, stack))
        top = measured["levels"][-1]["capacity"]
        result = {
            "benchmark": "capacity",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_s": round(time.time() - started, 1),
            "machine": machine_info(),
            "settings": {
                "sessions": args.sessions,
                "warm_s": args.warm,
                "duration_s": args.duration,
                "target_rate": args.target_rate,
                "responder": args.responder,
                "uvicorn_processes": args.web_workers,
                "rlimit_nofile": nofile,
                "server_env": {k: v for k, v in stack.env.items() if k.startswith(("CHATBOT_", "DATABASE_"))},
            },
            "capacity": top,
            "summary": [{"sessions": level["sessions"], **level["capacity"]} for level in measured["levels"]],
            **measured,
        }
        if "open_loop" in measured:
            ol = measured["open_loop"]
            result["target"] = {
                "sessions": ol["sessions"],
                "offered_msgs_per_s": ol["offered_msgs_per_s"],
                "achieved_msgs_per_s": ol["achieved_msgs_per_s"],
                "ack_ms": {k: ol["latency_ms"][k] for k in ("p50", "p95", "p99")},
                "ack_ms_after_first": {k: ol["latency_ms_after_first"][k] for k in ("p50", "p95", "p99")},
                "ack_ms_second_half": {k: ol["latency_ms_second_half"][k] for k in ("p50", "p95", "p99")},
                "ack_ms_by_second": ol["latency_ms_by_second"],
                "unanswered": ol["unanswered"],
            }
        print(json.dumps(result, indent=2))
        failed = False
        return 1 if measured["lost"] or measured["duplicated"] else 0
    except KeyboardInterrupt:
        log("interrupted; stopping the processes")
        return 130
    finally:
        stack.stop(keep_logs=args.keep_logs or failed)


if __name__ == "__main__":
    sys.exit(main())
