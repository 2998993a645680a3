"""Memory of a large transcript export: does it stream, or does it grow with the export?

    createdb -h 127.0.0.1 -U postgres bench_export
    .venv/bin/python bench/export_memory.py [--conversations 100000] \
        [--database-url postgres://postgres@127.0.0.1:5432/bench_export]
    dropdb -h 127.0.0.1 -U postgres bench_export

Migrates the database and seeds it with N conversations of 3-6 messages each (PostgreSQL COPY,
streamed from a generator; a database already seeded with N is reused). Then pulls each export
through the real API view with a real token (`messages.jsonl`, `messages.csv`,
`conversations.csv`, `messages.jsonl` redacted, and `messages.jsonl` through Django's ASGI handler,
the way uvicorn serves it), consuming the output as a client would, and samples this process's
resident memory (VmRSS) every 5,000 conversations. Prints one JSON object: per export the rows,
bytes, seconds, rss_start_mb, rss_peak_mb (the highest sample), rss_hwm_mb (the kernel's peak
RSS during the export, where /proc/self/clear_refs lets it be reset) and rss_end_mb.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITE_KEY = "bench-export"
SAMPLE_EVERY = 5000  # conversations
CUSTOMER_TEXTS = [
    "Hi, where is my order LL-2024-{n:06d}? It was due on Monday.",
    "How do I return a pair of shoes that don't fit?",
    "Can I pay with PayPal or only by card?",
    "My e-mail is customer{n}@example.com, please send the invoice there.",
    "Please call me back on 020 7946 {n4:04d}, I'd rather talk to a person.",
    "Do you ship to Norway, and how long does it take?",
    "The parcel arrived damaged. What now?",
]
BOT_TEXTS = [
    "You can return any item within 30 days. Start a return from your account page.",
    "We ship to most of Europe; delivery takes 3-5 working days.",
    "I'll get a person to help you with that.",
    "Which one do you mean: returns or exchanges?",
]


def rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def mb(kb: int) -> float:
    return round(kb / 1024, 1)


def seed(conversations: int) -> tuple[int, int]:
    """N conversations of 3-6 messages in the bench site, written with COPY from generators (so
    nothing of the size of the data set is held here). Returns (conversations, messages)."""
    from django.db import connection, transaction

    from chatbot.conversations.models import Conversation, Message, Visitor
    from chatbot.sites.models import Site

    site, _ = Site.objects.get_or_create(key=SITE_KEY, defaults={"name": "Export benchmark"})
    existing = Conversation.objects.filter(site=site).count()
    if existing == conversations:
        return existing, Message.objects.filter(conversation__site=site).count()
    print(f"seeding {conversations} conversations ...", file=sys.stderr)
    Visitor.objects.filter(site=site).delete()

    rng = random.Random(1234)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    visitors = max(1, conversations // 2)
    conversation_table, message_table = Conversation._meta.db_table, Message._meta.db_table
    visitor_table = Visitor._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {visitor_table}, {conversation_table} IN EXCLUSIVE MODE")
        # Reserve id ranges, so conversations and messages can be written with their ids in one pass.
        first_ids = []
        for table, count in ((visitor_table, visitors), (conversation_table, conversations)):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + %s) - %s + 1",
                [count, count],
            )
            first_ids.append(cursor.fetchone()[0])
        first_visitor, first_conversation = first_ids
        raw = cursor.cursor  # psycopg 3

        with raw.copy(f"COPY {visitor_table} (id, public_id, site_id, created_at, last_seen_at) FROM STDIN") as copy:
            for i in range(visitors):
                when = start + timedelta(seconds=i * 60)
                copy.write_row((first_visitor + i, str(_uuid(rng)), site.pk, when, when))

        statuses = ["closed"] * 6 + ["bot"] * 2 + ["waiting_human", "human"]
        sentiments = [("positive", 0.6), ("neutral", 0.0), ("negative", -0.5), ("", None)]
        total_messages = 0
        columns = (
            "id, site_id, visitor_id, status, last_seq, page_url, user_agent, created_at, updated_at, "
            "closed_at, csat, sentiment, sentiment_label, handed_off_at"
        )
        with raw.copy(f"COPY {conversation_table} ({columns}) FROM STDIN") as copy:
            for i, size in enumerate(_sizes(conversations)):
                when = start + timedelta(seconds=i * 30)
                status = statuses[i % len(statuses)]
                label, score = sentiments[i % len(sentiments)]
                copy.write_row(
                    (
                        first_conversation + i,
                        site.pk,
                        first_visitor + i % visitors,
                        status,
                        size,
                        f"https://shop.example.com/p/{i % 500}",
                        "Mozilla/5.0 (bench)",
                        when,
                        when + timedelta(minutes=5),
                        when + timedelta(minutes=5) if status == "closed" else None,
                        (i % 5) + 1 if status == "closed" else None,
                        score,
                        label,
                        when + timedelta(minutes=1) if status in ("waiting_human", "human") else None,
                    )
                )

        columns = (
            "conversation_id, seq, sender, text, intent, confidence, sources, handoff_offered, decision, "
            "decision_reason, options, model_version, timings, feedback, author_name, sentiment, "
            "sentiment_label, created_at"
        )
        with raw.copy(f"COPY {message_table} ({columns}) FROM STDIN") as copy:
            for i, size in enumerate(_sizes(conversations)):
                when = start + timedelta(seconds=i * 30)
                total_messages += size
                for seq in range(1, size + 1):
                    if seq % 2 == 1:
                        text = rng.choice(CUSTOMER_TEXTS).format(n=i, n4=i % 10000)
                        row: tuple[Any, ...] = (
                            "customer", text, "", None, "[]", False, "", "", "[]", "", "{}", "", "", -0.1, "negative"
                        )  # fmt: skip
                    else:
                        score = round(rng.uniform(0.3, 0.95), 4)
                        decision = "answer" if score >= 0.45 else "handoff"
                        sources = json.dumps([{"id": i % 61, "question": "How do I return an item?", "score": score}])
                        timings = json.dumps({"queue": 3, "retrieval": 12, "first_token": 140, "total": 420})
                        row = (
                            "bot", rng.choice(BOT_TEXTS), "faq" if decision == "answer" else "oos", score, sources,
                            decision == "handoff", decision, f"FAQ match {score} vs 0.45", "[]", "retrieval:minilm",
                            timings, "", "", None, "",
                        )  # fmt: skip
                    copy.write_row((first_conversation + i, seq, *row, when + timedelta(seconds=seq)))
    return conversations, total_messages


def _sizes(conversations: int) -> Iterator[int]:
    """How many messages each conversation has (3-6): the same sequence every time it is asked for."""
    rng = random.Random(99)
    for _ in range(conversations):
        yield rng.randint(3, 6)


def _uuid(rng: random.Random) -> Any:
    import uuid

    return uuid.UUID(int=rng.getrandbits(128), version=4)


def bench_token() -> str:
    from django.contrib.auth import get_user_model

    from chatbot.console.models import Operator, Role
    from chatbot.exports.services import api_token_create

    user, _ = get_user_model().objects.get_or_create(username="bench-export")
    Operator.objects.get_or_create(user=user, defaults={"role": Role.ADMIN})
    return api_token_create(user=user, name=f"bench {secrets.token_hex(4)}")[1]


class Meter:
    """Counts what a client receives, and samples RSS every SAMPLE_EVERY conversations."""

    def __init__(self, jsonl: bool) -> None:
        self.jsonl = jsonl
        self.rows = 0
        self.bytes = 0
        self.conversations = 0
        self.last_conversation = b""
        self.samples: list[int] = []
        self.header_seen = jsonl
        self.partial = b""

    def feed(self, block: bytes) -> None:
        self.bytes += len(block)
        # A server may cut the stream anywhere (Django's ASGI handler sends 64 KiB messages).
        lines = (self.partial + block).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if not self.header_seen:
                self.header_seen = True
                continue
            self.rows += 1
            # The conversation id is the first field of every row (CSV) and record (JSON Lines).
            key = line[19:40].split(b",", 1)[0] if self.jsonl else line.split(b",", 1)[0]
            if key != self.last_conversation:
                self.last_conversation = key
                self.conversations += 1
                if self.conversations % SAMPLE_EVERY == 0:
                    self.samples.append(rss_kb())


def measure(name: str, jsonl: bool, run: Callable[[Meter], None]) -> dict[str, Any]:
    import gc

    gc.collect()
    meter = Meter(jsonl)
    hwm_reset = reset_peak()
    start_kb = rss_kb()
    started = time.perf_counter()
    run(meter)
    seconds = time.perf_counter() - started
    end_kb = rss_kb()
    result = {
        "rows": meter.rows,
        "conversations": meter.conversations,
        "bytes": meter.bytes,
        "seconds": round(seconds, 2),
        "rows_per_s": round(meter.rows / seconds) if seconds else None,
        "rss_start_mb": mb(start_kb),
        "rss_peak_mb": mb(max([start_kb, end_kb, *meter.samples])),
        "rss_hwm_mb": mb(rss_kb("VmHWM")) if hwm_reset else None,
        "rss_end_mb": mb(end_kb),
        "rss_samples": len(meter.samples),
        "rss_samples_mb": [mb(s) for s in meter.samples[:: max(1, len(meter.samples) // 10)]],
    }
    print(f"{name}: {json.dumps(result)}", file=sys.stderr)
    return result


def through_view(path: str, token: str, params: dict[str, str]) -> Callable[[Meter], None]:
    """The API view called as Django's WSGI handler calls it, the response iterated as a server would."""

    def run(meter: Meter) -> None:
        from django.test import RequestFactory
        from django.urls import resolve

        request = RequestFactory().get(path, params, HTTP_AUTHORIZATION=f"Bearer {token}")
        match = resolve(path)
        response = match.func(request, *match.args, **match.kwargs)
        assert response.status_code == 200, response.status_code
        for block in response:
            meter.feed(block)
        response.close()

    return run


def through_asgi(path: str, token: str, *, django_default: bool = False) -> Callable[[Meter], None]:
    """The same request through Django's ASGI handler (what uvicorn runs), body messages consumed.
    With `django_default`, the response is served the way Django serves any synchronous
    StreamingHttpResponse under ASGI (for comparison: it reads the whole export first)."""

    def run(meter: Meter) -> None:
        from django.core.handlers.asgi import ASGIHandler
        from django.http import StreamingHttpResponse

        from chatbot.exports.responses import ExportResponse

        async def go() -> None:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "https",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": f"site={SITE_KEY}".encode(),
                "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
                "client": ("127.0.0.1", 50000),
                "server": ("localhost", 443),
            }
            connected = asyncio.Event()
            requested = False

            async def receive() -> dict[str, Any]:
                nonlocal requested
                if not requested:
                    requested = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await connected.wait()
                return {"type": "http.disconnect"}

            async def send(message: Mapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    assert message["status"] == 200, message
                elif message.get("body"):
                    meter.feed(message["body"])

            await ASGIHandler()(scope, receive, send)

        own = ExportResponse.__aiter__
        if django_default:
            ExportResponse.__aiter__ = StreamingHttpResponse.__aiter__  # type: ignore[method-assign]
        try:
            asyncio.run(go())
        finally:
            ExportResponse.__aiter__ = own  # type: ignore[method-assign]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_export")
    parser.add_argument(
        "--no-comparison",
        action="store_true",
        help="skip the last run, which serves the export as Django serves a plain streaming response under "
        "ASGI (it holds the whole export in memory)",
    )
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DATABASE_POOL"] = "0"
    os.environ.setdefault("DJANGO_DEBUG", "0")  # DEBUG would keep a log of queries
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")
    os.environ.setdefault("CHATBOT_EXPORT_RATE_PER_MINUTE", "0")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark seeds with PostgreSQL's COPY: give a postgres:// --database-url.")
    call_command("migrate", "--no-input", verbosity=0)
    started = time.perf_counter()
    conversations, messages = seed(args.conversations)
    seed_s = time.perf_counter() - started
    token = bench_token()
    connection.close()

    site = {"site": SITE_KEY}
    # Warm-up: the first request imports and caches what every request needs; not measured.
    for path in ("messages.jsonl", "messages.csv", "conversations.csv"):
        through_view(f"/api/v1/exports/{path}", token, {**site, "to": "2000-01-01"})(Meter(path.endswith("jsonl")))
    through_asgi("/api/v1/exports/messages.jsonl", token)(Meter(True))

    runs: list[tuple[str, bool, Callable[[Meter], None]]] = [
        ("messages.jsonl", True, through_view("/api/v1/exports/messages.jsonl", token, site)),
        ("messages.csv", False, through_view("/api/v1/exports/messages.csv", token, site)),
        ("conversations.csv", False, through_view("/api/v1/exports/conversations.csv", token, site)),
        (
            "messages.jsonl redact=1",
            True,
            through_view("/api/v1/exports/messages.jsonl", token, {**site, "redact": "1"}),
        ),
        ("messages.jsonl over ASGI", True, through_asgi("/api/v1/exports/messages.jsonl", token)),
    ]
    if not args.no_comparison:
        runs.append(
            (
                "comparison: messages.jsonl over ASGI as Django serves a plain StreamingHttpResponse",
                True,
                through_asgi("/api/v1/exports/messages.jsonl", token, django_default=True),
            )
        )
    results = {name: measure(name, jsonl, run) for name, jsonl, run in runs}
    print(
        json.dumps(
            {
                "conversations": conversations,
                "messages": messages,
                "seed_seconds": round(seed_s, 1),
                "sample_every_conversations": SAMPLE_EVERY,
                "exports": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
