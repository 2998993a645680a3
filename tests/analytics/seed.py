"""Conversations with known figures, for the selector, view and browser tests.

Written out one by one so that every expected number in the tests can be checked by hand against
this file. Site "alpha", the range 2025-03-03 .. 2025-03-07 in UTC (times are UTC, in March):

| conv | started | status        | handed off | 1st human reply | operator msg | csat |
| ---- | ------- | ------------- | ---------- | --------------- | ------------ | ---- |
| a1   | 3rd 10:00 | closed      |            |                 |              | 5    |
| a2   | 3rd 11:00 | closed      | 11:01      | 11:03 (120 s)   | yes          | 2    |
| a3   | 3rd 23:30 | bot         |            |                 |              |      |
| a4   | 5th 09:00 | closed      |            |                 | yes          | 4    |
| a5   | 5th 12:00 | waiting_human | 12:00:30 |                 |              |      |
| a6   | 5th 14:00 | human       | 14:00      | 14:10 (600 s)   | yes          |      |
| a7   | 2nd 23:59 | closed      |            |                 |              | 1    |
| a8   | 8th 00:00 | closed      |            |                 |              | 3    |

a7 is the day before the range (but the 3rd, 00:59, in Europe/Berlin), a8 the day after.

Their bot replies (intent, decision, first-token ms) are in ALPHA below: a1 2, a2 1, a3 2 (one
stored without timings), a4 1, a5 1, a6 none. Each answers a customer question; the handoff and
clarify ones are the range's unanswered questions: a refund question asked twice (a2, a5), and
a shipping question (a3).

Site "beta": b1 on the 3rd 12:00, closed without a human, csat 1, one answer (secret-intent,
9999 ms) and one clarify reply (no timing) to a question written in HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = "2025-03-03"
END = "2025-03-07"


def at(text: str) -> datetime:
    """`03-03 10:00` or `03-03 12:00:30` in March 2025, UTC."""
    day, clock = text.split()
    month, dom = (int(part) for part in day.split("-"))
    parts = [int(part) for part in clock.split(":")]
    return datetime(2025, month, dom, parts[0], parts[1], parts[2] if len(parts) > 2 else 0, tzinfo=UTC)


@dataclass
class Conv:
    started: str
    status: str
    handed_off: str | None = None
    first_human_reply: str | None = None
    operator_message: bool = False
    csat: int | None = None
    # (the customer's question, the reply's intent, decision, first_token ms or None)
    bot: list[tuple[str, str, str, int | None]] = field(default_factory=list)


REFUND = "I want a refund for my broken lamp"
SHIPPING = "Do you ship to Norway?"
HTML_QUESTION = '<img src=x onerror="window.__pwned=1"> is this <b>real</b>?'

ALPHA = {
    "a1": Conv(
        "03-03 10:00",
        "closed",
        csat=5,
        bot=[("How much is postage?", "shipping", "answer", 100), ("And to Italy?", "shipping", "answer", 300)],
    ),
    "a2": Conv(
        "03-03 11:00",
        "closed",
        handed_off="03-03 11:01",
        first_human_reply="03-03 11:03",
        operator_message=True,
        csat=2,
        bot=[(REFUND, "refund", "handoff", 200)],
    ),
    "a3": Conv("03-03 23:30", "bot", bot=[(SHIPPING, "shipping", "clarify", 500), ("Thanks", "", "answer", None)]),
    "a4": Conv(
        "03-05 09:00",
        "closed",
        operator_message=True,
        csat=4,
        bot=[("How do I return a rug?", "returns", "answer", 400)],
    ),
    "a5": Conv("03-05 12:00", "waiting_human", handed_off="03-05 12:00:30", bot=[(REFUND, "refund", "handoff", 250)]),
    "a6": Conv(
        "03-05 14:00", "human", handed_off="03-05 14:00", first_human_reply="03-05 14:10", operator_message=True
    ),
    "a7": Conv("03-02 23:59", "closed", csat=1, bot=[("Postage to France?", "shipping", "answer", 50)]),
    "a8": Conv("03-08 00:00", "closed", csat=3, bot=[("Can I return a vase?", "returns", "answer", 60)]),
}
BETA = {
    "b1": Conv(
        "03-03 12:00",
        "closed",
        csat=1,
        bot=[("Secret?", "secret-intent", "answer", 9999), (HTML_QUESTION, "secret-intent", "clarify", None)],
    )
}


def _create(site: Any, conv: Conv) -> Any:
    from chatbot.conversations.models import Conversation, Message, Visitor

    conversation = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site), status=conv.status)
    seq = 0

    def add(sender: str, text: str, **fields: Any) -> Any:
        nonlocal seq
        seq += 1
        message = Message.objects.create(conversation=conversation, seq=seq, sender=sender, text=text, **fields)
        # created_at is set on insert (auto_now_add): one second per message from the start.
        Message.objects.filter(pk=message.pk).update(created_at=at(conv.started) + timedelta(seconds=seq))
        return message

    for question, intent, decision, first_token in conv.bot:
        asked = add("customer", question)
        timings = {} if first_token is None else {"queue": 5, "retrieval": 20, "first_token": first_token, "total": 900}
        add("bot", "an answer", reply_to=asked, intent=intent, decision=decision, timings=timings)
    if conv.operator_message:
        add("operator", "Hello, a person here.", author_name="Ada")
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=at(conv.started),
        last_seq=seq,
        handed_off_at=at(conv.handed_off) if conv.handed_off else None,
        first_human_reply_at=at(conv.first_human_reply) if conv.first_human_reply else None,
        closed_at=at(conv.started) if conv.status == "closed" else None,
        csat=conv.csat,
    )
    return conversation


def seed() -> dict[str, int]:
    """Creates sites alpha and beta with the conversations above; returns the site ids."""
    from chatbot.sites.models import Site

    alpha = Site.objects.create(key="alpha", name="Alpha shop")
    beta = Site.objects.create(key="beta", name="Beta shop")
    for conv in ALPHA.values():
        _create(alpha, conv)
    for conv in BETA.values():
        _create(beta, conv)
    return {"alpha": alpha.pk, "beta": beta.pk}


def seed_and_print() -> None:
    """For `manage.py shell -c`: seeds, and prints the site ids as JSON on the last line."""
    print(json.dumps(seed()))
