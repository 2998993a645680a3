"""Which customer questions count as unanswered, what the team replied to them, and how they are
grouped: on a seeded conversation log, with a deterministic stand-in for the embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from chatbot.console.unanswered import (
    UnansweredQuestion,
    period_bounds,
    unanswered_clusters,
    unanswered_questions,
)
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Visitor
from chatbot.sites.models import Site
from intents.embeddings import Vectors

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
START = timezone.localdate(NOW - timedelta(days=2))
END = timezone.localdate(NOW)


class Log:
    """Writes conversations as they would be stored, one message per second from `at`."""

    def __init__(self, site: Site, at: datetime | None = None) -> None:
        self.conversation = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
        self.at = at or NOW - timedelta(hours=1)
        self.by_seq: dict[int, Message] = {}

    def say(self, sender: str, text: str, **fields: Any) -> Message:
        seq = len(self.by_seq) + 1
        reply_to = fields.pop("reply_to", None)
        message = Message.objects.create(
            conversation=self.conversation,
            seq=seq,
            sender=sender,
            text=text,
            reply_to=self.by_seq[reply_to] if reply_to else None,
            **fields,
        )
        moment = self.at + timedelta(seconds=seq)
        Message.objects.filter(pk=message.pk).update(created_at=moment)
        self.by_seq[seq] = message
        return message

    def bot(self, text: str, *, decision: str, confidence: float, intent: str = "faq") -> Message:
        customer = max(s for s, m in self.by_seq.items() if m.sender == "customer")
        reply = self.say("bot", text, reply_to=customer, decision=decision, confidence=confidence, intent=intent)
        if decision == "handoff":
            self.hand_off()
        return reply

    def hand_off(self) -> None:
        moment = self.at + timedelta(seconds=len(self.by_seq), milliseconds=500)
        Conversation.objects.filter(pk=self.conversation.pk).update(
            status=ConversationStatus.WAITING_HUMAN, handed_off_at=moment
        )

    def id(self, seq: int) -> int:
        return self.by_seq[seq].pk


@pytest.fixture
def log(shop_site: Site, other_site: Site) -> dict[str, Log]:
    # The logs below were written for a site answering from a match score of 0.45.
    Site.objects.filter(pk__in=[shop_site.pk, other_site.pk]).update(answer_threshold=0.45)
    shipping = Log(shop_site)
    shipping.say("customer", "Do you ship to Norway?")  # 1
    shipping.bot("I'm not sure; let me get a colleague.", decision="handoff", confidence=0.2, intent="out_of_scope")
    shipping.say("system", "Olga joined the chat.")  # 3
    shipping.say("operator", "Yes, we ship to Norway within 5 days.")  # 4
    shipping.say("operator", "Shipping there costs 9 EUR.")  # 5
    shipping.say("customer", "And to Iceland?")  # 6: the bot no longer answers
    shipping.say("operator", "Iceland too.")  # 7
    shipping.say("customer", "thanks")  # 8

    payment = Log(shop_site, at=NOW - timedelta(minutes=30))
    payment.say("customer", "What are your opening hours?")  # 1
    payment.bot("Nine to five.", decision="answer", confidence=0.9)  # 2: answered well
    payment.say("customer", "Can I pay with crypto?")  # 3
    payment.bot("We accept cards.", decision="answer", confidence=0.47)  # 4: 0.47 < 0.45 + 0.05
    payment.say("customer", "Is it the same for bitcoin?")  # 5
    payment.bot("Which of these?", decision="clarify", confidence=0.6)  # 6
    payment.say("customer", "I want to talk to a human")  # 7
    payment.bot("Getting someone.", decision="handoff", confidence=0.1, intent="human_request")  # 8: a request
    payment.say("operator", "Hi, we don't take crypto.")  # 9: answers 7, which is not a question

    smalltalk = Log(shop_site)
    smalltalk.say("customer", "hello there")
    smalltalk.bot("Hi! How can I help?", decision="answer", confidence=0.12, intent="greeting")  # an intent reply

    pending = Log(shop_site)
    pending.say("customer", "Is the sofa in stock?")  # no reply yet, never handed off

    elsewhere = Log(other_site)
    elsewhere.say("customer", "Do you ship to Norway?")
    elsewhere.bot("Let me get a colleague.", decision="handoff", confidence=0.2, intent="out_of_scope")

    old = Log(shop_site, at=NOW - timedelta(days=40))
    old.say("customer", "Do you ship to Mars?")
    old.bot("Let me get a colleague.", decision="handoff", confidence=0.1, intent="out_of_scope")
    return {"shipping": shipping, "payment": payment}


def test_unanswered_questions_are_the_handoffs_clarifications_near_misses_and_messages_to_people(
    shop_site: Site, log: dict[str, Log]
) -> None:
    shipping, payment = log["shipping"], log["payment"]
    found = unanswered_questions(site_ids=[shop_site.pk], start=START, end=END)
    assert [(q.message_id, q.text, q.reason, q.operator_replies) for q in found] == [
        (
            shipping.id(1),
            "Do you ship to Norway?",
            "handoff",
            ("Yes, we ship to Norway within 5 days.", "Shipping there costs 9 EUR."),
        ),
        (shipping.id(6), "And to Iceland?", "with_human", ("Iceland too.",)),
        (shipping.id(8), "thanks", "with_human", ()),
        (payment.id(3), "Can I pay with crypto?", "near_miss", ()),
        (payment.id(5), "Is it the same for bitcoin?", "clarify", ()),
    ]
    assert found[3].confidence == pytest.approx(0.47)


def test_a_wider_margin_counts_more_answers_as_near_misses(shop_site: Site, log: dict[str, Log], settings: Any) -> None:
    settings.CHATBOT_UNANSWERED_MARGIN = 0.5  # 0.9 < 0.45 + 0.5: the well-answered one too
    texts = [q.text for q in unanswered_questions(site_ids=[shop_site.pk], start=START, end=END)]
    assert "What are your opening hours?" in texts
    settings.CHATBOT_UNANSWERED_MARGIN = 0.0  # 0.47 >= 0.45: no near miss left
    texts = [q.text for q in unanswered_questions(site_ids=[shop_site.pk], start=START, end=END)]
    assert "Can I pay with crypto?" not in texts


def test_only_the_chosen_sites_and_days_count(shop_site: Site, other_site: Site, log: dict[str, Log]) -> None:
    both = unanswered_questions(site_ids=[shop_site.pk, other_site.pk], start=START, end=END)
    assert sum(q.site_id == other_site.pk for q in both) == 1
    assert unanswered_questions(site_ids=[other_site.pk], start=START, end=END)[0].site_id == other_site.pk
    long_ago = timezone.localdate(NOW - timedelta(days=40))
    (old,) = unanswered_questions(site_ids=[shop_site.pk], start=long_ago, end=long_ago)
    assert old.text == "Do you ship to Mars?"
    assert unanswered_questions(site_ids=[], start=START, end=END) == []


def test_with_a_limit_the_most_recent_questions_are_kept(shop_site: Site, log: dict[str, Log]) -> None:
    recent = unanswered_questions(site_ids=[shop_site.pk], start=START, end=END, limit=2)
    assert [q.text for q in recent] == ["Can I pay with crypto?", "Is it the same for bitcoin?"]


def test_a_period_of_whole_days_includes_the_last_day_and_a_reversed_one_is_refused() -> None:
    lower, upper = period_bounds(START, END)
    assert upper - lower == timedelta(days=(END - START).days + 1)
    assert timezone.is_aware(lower)
    with pytest.raises(ValueError, match="after it ends"):
        period_bounds(END, START)


class TopicEmbedder:
    """One dimension per topic word; texts without one share a last dimension."""

    model_name = "topics"
    topics = ("ship", "pay", "password")
    dimension = len(topics) + 1

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            hits = [i for i, topic in enumerate(self.topics) if topic in text.lower()]
            rows[row, hits or [len(self.topics)]] = 1
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def handed_off(site: Site, question: str, *replies: str) -> Log:
    conversation = Log(site)
    conversation.say("customer", question)
    conversation.bot("Let me get a colleague.", decision="handoff", confidence=0.2, intent="out_of_scope")
    for reply in replies:
        conversation.say("operator", reply)
    return conversation


def test_clusters_group_questions_largest_first_with_the_teams_most_frequent_reply_first(shop_site: Site) -> None:
    first = handed_off(shop_site, "Do you ship abroad?", "Yes, we ship worldwide.")
    second = handed_off(shop_site, "Can you ship to Canada?", "Yes, we ship worldwide.", "It takes a week.")
    handed_off(shop_site, "How do I pay by invoice?", "Choose invoice at checkout.")
    third = handed_off(shop_site, "Do you ship abroad?")
    clusters = unanswered_clusters(site_ids=[shop_site.pk], start=START, end=END, embedder=TopicEmbedder())
    assert [(c.size, c.label) for c in clusters] == [(3, "Do you ship abroad?"), (1, "How do I pay by invoice?")]
    shipping = clusters[0]
    assert shipping.questions == ["Do you ship abroad?", "Can you ship to Canada?", "Do you ship abroad?"]
    assert shipping.message_ids == [first.id(1), second.id(1), third.id(1)]
    assert shipping.operator_replies == ["Yes, we ship worldwide.", "It takes a week."]
    limited = unanswered_clusters(site_ids=[shop_site.pk], start=START, end=END, limit=1, embedder=TopicEmbedder())
    assert [c.label for c in limited] == ["Do you ship abroad?"]


def test_no_unanswered_question_gives_no_cluster_without_loading_a_model(shop_site: Site) -> None:
    class Unusable:
        model_name, dimension = "none", 1

        def encode(self, texts: Sequence[str]) -> Vectors:
            raise AssertionError("nothing to embed")

    assert unanswered_clusters(site_ids=[shop_site.pk], start=START, end=END, embedder=Unusable()) == []


def test_questions_are_kept_in_the_dataclass_the_dashboard_reads(shop_site: Site, log: dict[str, Log]) -> None:
    question = unanswered_questions(site_ids=[shop_site.pk], start=START, end=END)[0]
    assert isinstance(question, UnansweredQuestion)
    assert question.conversation_id == log["shipping"].conversation.pk
