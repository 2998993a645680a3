"""Customer questions in two windows of seven days, for the hot-topics tests (service, views and
the browser). Times are counted back from now: (text, days ago); each question is asked in a
conversation of its own, one hour before the given number of days.

| topic    | this week (days ago)  | the week before | expected                |
| -------- | --------------------- | --------------- | ----------------------- |
| order    | 5: 0, 0, 1, 3, 6      | 1               | 5 vs 1, rising +400 %   |
| password | 3: 0, 2, 2            | 5               | 3 vs 5, falling -40 %   |
| refund   | 2: 1, 4               | 0               | 2 vs 0, new             |

plus small talk (left out), one lone question (a topic needs two), questions older than two weeks
(outside both windows), and the same questions on a second site, which must not count.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

ORDER = [
    "Where is my order?",
    "where's my order",
    "Has my order shipped yet?",
    "I haven't received my order yet",
    "when will my order arrive",
]
PASSWORD = ["How do I reset my password?", "I forgot my password", "reset my password please"]
REFUND = ["I want a refund", "Can I get a refund?"]

THIS_WEEK = [
    *zip(ORDER, [0, 0, 1, 3, 6], strict=True),
    *zip(PASSWORD, [0, 2, 2], strict=True),
    *zip(REFUND, [1, 4], strict=True),
    ("thanks", 0),
    ("hi", 1),
    ("ok thank you", 2),
    ("What are your opening hours?", 3),
]
WEEK_BEFORE = [
    ("Where is my order? It hasn't arrived", 8),
    ("I can't remember my password, how do I change it?", 7),
    ("password reset link", 9),
    ("forgot password", 10),
    ("reset my password", 12),
    ("How can I reset my password?", 13),
    ("yes", 9),
]
LONG_AGO = [("refund please", 15), ("I'd like a refund for my order", 20), ("how do I get my money back", 30)]
OTHER_SITE = [("Where is my order?", 0), ("I want a refund", 1), ("I want a refund", 2), ("refund please", 9)]


def ask(site: Any, text: str, days_ago: float) -> Any:
    from django.utils import timezone

    from chatbot.conversations.models import Conversation, Message, Visitor

    conversation = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
    message = Message.objects.create(conversation=conversation, seq=1, sender="customer", text=text)
    at = timezone.now() - timedelta(days=days_ago, hours=1)
    Message.objects.filter(pk=message.pk).update(created_at=at)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=at, last_seq=1)
    return message


def seed(site: Any, other: Any) -> None:
    for text, days_ago in (*THIS_WEEK, *WEEK_BEFORE, *LONG_AGO):
        ask(site, text, days_ago)
    for text, days_ago in OTHER_SITE:
        ask(other, text, days_ago)


def seed_and_print() -> None:
    """For `manage.py shell -c`: sites "hot" and "cold" with the questions above; prints their ids
    as JSON on the last line."""
    from chatbot.sites.models import Site

    site = Site.objects.create(key="hot", name="Hot shop")
    other = Site.objects.create(key="cold", name="Cold shop")
    seed(site, other)
    print(json.dumps({"hot": site.pk, "cold": other.pk}))
