"""Headless chat through the REST API against the widget's websocket, in the same run.

    python bench/api.py [--sessions 10] [--duration 15] [--rate 0.2 | --total-rate 5]
                        [--server-env KEY=VALUE ...] [--database-url ...] [--redis-url ...]

It starts the same stack as bench/ws_load.py (PostgreSQL database, Redis db, one uvicorn process,
one Celery worker answering with the real MiniLM retrieval model; `--server-env
CHATBOT_RESPONDER=echo` for the stub), makes an API key with `manage.py api_keys create`, and runs
the same load shape twice, on an idle server each time:

- websocket: N widget sessions on /ws/chat/ sending `message` frames (send -> `ack`, send -> the
  bot's `message` frame), exactly as ws_load measures them;
- API: N API clients, each with a conversation (`POST /api/v1/conversations`) and its event stream
  open (`GET .../events`, Server-Sent Events), sending `POST .../messages` (send -> 202, send -> the
  bot's `message` event on the stream).

Messages per second are the acknowledged messages over the time from the first send to the last
acknowledgement (open loop: sends keep their schedule whatever the answers). Prints one JSON object
on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ws_load import (  # noqa: E402
    DEFAULT_ORIGIN,
    PAGE_URL,
    USER_AGENT,
    Phase,
    Session,
    Stack,
    close_all,
    connect_all,
    log,
    machine_info,
    raise_nofile,
    run_load,
    send_schedule,
    warm_up,
)
from tests import processes  # noqa: E402


class ApiSession(Session):
    """One API client: a conversation, its SSE stream, and message posts. The API's answers are
    fed to the websocket session's bookkeeping as the frames the socket would have carried (a 202
    as the `ack`, each SSE event's data as the frame), so both sides are measured by one code."""

    def __init__(self, phase: Phase, client: httpx.AsyncClient, base: str) -> None:
        super().__init__(phase)
        self.client = client
        self.base = base
        self.conversation = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.stream_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        response = await self.client.post(f"{self.base}/conversations", json={"page_url": PAGE_URL})
        response.raise_for_status()
        self.conversation = int(response.json()["id"])
        self.stream_task = asyncio.create_task(self._stream())
        await self.ready

    async def _stream(self) -> None:
        try:
            url = f"{self.base}/conversations/{self.conversation}/events"
            async with self.client.stream("GET", url, timeout=httpx.Timeout(None, connect=30)) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if line.startswith("event: status") and not self.ready.done():
                        self.ready.set_result(None)  # the stream is open and joined
                    elif line.startswith("data: "):
                        self._on_text(line[6:].encode(), time.perf_counter())
        except (httpx.HTTPError, asyncio.CancelledError) as exc:
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(str(exc)))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.closed = True

    def send_message(self, text: str) -> None:
        client_id = uuid.uuid4().hex
        sent = time.perf_counter()
        self.pending[client_id] = sent
        self.phase.sent += 1
        if self.phase.first_send is None:
            self.phase.first_send = sent
        task = asyncio.create_task(self._post(client_id, text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, client_id: str, text: str) -> None:
        try:
            response = await self.client.post(
                f"{self.base}/conversations/{self.conversation}/messages", json={"client_id": client_id, "text": text}
            )
        except httpx.HTTPError as exc:
            self.phase.errors[type(exc).__name__] += 1
            return
        if response.status_code != 202:
            self.phase.errors[f"http_{response.status_code}"] += 1
            return
        body = response.json()
        ack = {"type": "ack", "client_id": body["client_id"], "seq": body["seq"]}
        self._on_text(json.dumps(ack).encode(), time.perf_counter())

    async def close(self) -> None:
        if self.stream_task is not None:
            self.stream_task.cancel()
            await asyncio.gather(self.stream_task, *self.tasks, return_exceptions=True)


async def api_phase(
    args: argparse.Namespace, base: str, key: str, schedule: list[tuple[float, int, str]]
) -> dict[str, Any]:
    phase = Phase("chat")
    limits = httpx.Limits(max_connections=args.sessions * 2 + 20, max_keepalive_connections=args.sessions * 2 + 20)
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "bench-api/1 (httpx)"}
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        sessions = [ApiSession(phase, client, base) for _ in range(args.sessions)]
        started = time.perf_counter()
        opened = await asyncio.gather(*(s.open() for s in sessions), return_exceptions=True)
        failures = [repr(o) for o in opened if isinstance(o, BaseException)]
        connect = {
            "ok": len(sessions) - len(failures),
            "failed": len(failures),
            "wall_s": round(time.perf_counter() - started, 2),
        }
        live: list[Session | None] = [
            s if not isinstance(o, BaseException) else None for s, o in zip(sessions, opened, strict=True)
        ]
        load = await run_load(live, phase, schedule, args.duration, args.drain, want_replies=True)
        await asyncio.gather(*(s.close() for s in sessions))
    return {"connect": connect, "connect_failures": failures[:3], **load}


async def ws_phase(args: argparse.Namespace, ws_base: str, schedule: list[tuple[float, int, str]]) -> dict[str, Any]:
    phase = Phase("chat")
    headers = {"Origin": args.origin, "User-Agent": USER_AGENT}
    url = f"{ws_base}/ws/chat/?site={quote(args.site)}&page={quote(PAGE_URL, safe='')}"
    sessions, connect = await connect_all(url, phase, headers, args.sessions, 50, 30)
    load = await run_load(sessions, phase, schedule, args.duration, args.drain, want_replies=True)
    await close_all(sessions, phase)
    return {"connect": connect, **load}


def summary(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "msgs_per_s": entry["achieved_msgs_per_s"],
        "acked": entry["answered"],
        "sent": entry["sent"],
        "ack_ms": {k: entry["latency_ms"][k] for k in ("p50", "p95", "p99")},
        "reply_ms": {k: entry["replies"]["latency_ms"][k] for k in ("p50", "p95", "p99")},
        "first_token_ms": {k: entry["replies"]["first_token_ms"][k] for k in ("p50", "p99")},
        "replies": f"{entry['replies']['received']}/{entry['replies']['expected']}",
        "errors": dict(entry["error_frames"]),
    }


async def bench(args: argparse.Namespace, stack: Stack, key: str) -> dict[str, Any]:
    http_base = f"http://127.0.0.1:{stack.port}/api/v1"
    ws_base = f"ws://127.0.0.1:{stack.port}"
    headers = {"Origin": args.origin, "User-Agent": USER_AGENT}
    log("warm-up: one question answered end to end over the websocket")
    warm = await warm_up(f"{ws_base}/ws/chat/?site={quote(args.site)}", f"{ws_base}/ws/echo/", headers, 120)
    rate = args.total_rate / args.sessions if args.total_rate else args.rate
    schedule = send_schedule(args.sessions, rate, args.duration, seed=args.seed)
    results: dict[str, Any] = {"warm_up": warm, "scheduled_msgs": len(schedule), "rate_per_session": round(rate, 4)}
    for kind in ("websocket", "api"):
        quiet = await stack.wait_quiet(30)
        log(f"{kind}: {args.sessions} sessions, {len(schedule)} messages over {args.duration} s")
        entry = await (
            ws_phase(args, ws_base, schedule) if kind == "websocket" else api_phase(args, http_base, key, schedule)
        )
        entry["before"] = quiet
        entry["purged_reply_backlog"] = stack.purge_inference_queue()
        results[kind] = entry
        log(f"{kind}: {summary(entry)}")
    results["summary"] = {"websocket": summary(results["websocket"]), "api": summary(results["api"])}
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10, help="clients per side (default %(default)s)")
    parser.add_argument("--duration", type=float, default=15, help="seconds of sending per side (default %(default)s)")
    parser.add_argument("--rate", type=float, default=0.2, help="messages/s per client (default %(default)s)")
    parser.add_argument("--total-rate", type=float, default=None, help="messages/s over all clients")
    parser.add_argument("--drain", type=float, default=30, help="max seconds to wait for answers after sending")
    parser.add_argument("--site", default="demo")
    parser.add_argument("--origin", default=DEFAULT_ORIGIN)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/chatbot_bench_api")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="flushed at start")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.duration <= 0 or args.rate <= 0:
        parser.error("--sessions, --duration and --rate must be positive")
    args.web_workers = 1
    return args


def main() -> int:
    args = parse_args()
    raise_nofile()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = Stack(args)
    failed = True
    try:
        stack.start()
        output = processes.manage("api_keys", "create", "--site", args.site, "--scopes", "chat", env=stack.env)
        key = output.split()[-1]
        started = time.time()
        measured = asyncio.run(bench(args, stack, key))
        print(
            json.dumps(
                {
                    "benchmark": "api",
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                    "wall_s": round(time.time() - started, 1),
                    "machine": machine_info(),
                    "settings": {
                        "sessions": args.sessions,
                        "duration_s": args.duration,
                        "rate_per_session": None if args.total_rate else args.rate,
                        "total_rate": args.total_rate,
                        "server_env": args.server_env,
                        "order": "websocket, then API, each after the server and worker are idle",
                    },
                    **measured,
                    "notes": [
                        "msgs_per_s: acknowledged messages / (last ack - first send), open-loop sending",
                        "ack_ms: send -> ack frame (websocket) or 202 (API); reply_ms: send -> the bot's message",
                        "the API side keeps one SSE stream per conversation open, as a headless client would",
                    ],
                },
                indent=2,
            )
        )
        failed = False
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop(keep_logs=args.keep_logs or failed)


if __name__ == "__main__":
    sys.exit(main())
