from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from chatbot.sites.models import Site


class Visitor(models.Model):
    """A person on a customer's website, known by the signed token their browser keeps."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.public_id)


class ConversationStatus(models.TextChoices):
    BOT = "bot", "Bot answering"
    WAITING_HUMAN = "waiting_human", "Waiting for a human"
    HUMAN = "human", "Human answering"
    CLOSED = "closed", "Closed"


class Conversation(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.BOT)
    # The highest `seq` handed out; incremented under a row lock so sequence numbers are gapless.
    last_seq = models.PositiveIntegerField(default=0)
    page_url = models.URLField(max_length=2000, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The operator answering (status `human`), set by exactly one successful claim.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    # When the conversation started waiting for a person (cleared when one takes it or it closes).
    waiting_since = models.DateTimeField(null=True, blank=True)
    # Set once: the first time it was handed to the team, and the first operator reply.
    handed_off_at = models.DateTimeField(null=True, blank=True)
    first_human_reply_at = models.DateTimeField(null=True, blank=True)
    # Customer satisfaction, 1-5, asked when the conversation closes.
    csat = models.PositiveSmallIntegerField(null=True, blank=True)
    # The customer's mood over the conversation (the latest score, -1..1, and its label), filled
    # by the sentiment scorer off the reply path; empty until it has run.
    sentiment = models.FloatField(null=True, blank=True)
    sentiment_label = models.CharField(max_length=16, blank=True)
    # Set once, when the customer's sentiment turned strongly negative or kept getting worse: the
    # inbox flags it (and sites that ask for it hand it to a person).
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_reason = models.CharField(max_length=200, blank=True)
    # The most severe complaint of the customer's messages so far (the latest among equals) and
    # what it is about: a category of intents.complaints.taxonomy.CATEGORIES and a severity of
    # intents.complaints.severity.SEVERITIES (low, medium, high, critical); empty while none.
    # Filled with the sentiment, off the reply path.
    complaint_category = models.CharField(max_length=32, blank=True)
    complaint_severity = models.CharField(max_length=16, blank=True)
    # The language of the customer's latest message (`intents.languages`: en, zh-hans, ...): the
    # bot's fixed texts and system messages are written in it. Empty until the customer writes.
    language = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "status", "-updated_at"]),
            models.Index(fields=["site", "-created_at"]),
            models.Index(fields=["visitor", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.status})"

    @property
    def group_name(self) -> str:
        return f"conversation.{self.pk}"


class Sender(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    BOT = "bot", "Bot"
    OPERATOR = "operator", "Operator"
    SYSTEM = "system", "System"


class Decision(models.TextChoices):
    ANSWER = "answer", "Answered"
    CLARIFY = "clarify", "Asked which entry"
    HANDOFF = "handoff", "Handed to a person"


class Feedback(models.TextChoices):
    UP = "up", "Helpful"
    DOWN = "down", "Not helpful"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=16, choices=Sender.choices)
    text = models.TextField()
    # The language it is written in (a customer message: detected; the bot's and system messages:
    # the one they answer in). Empty for messages stored before languages were recorded.
    language = models.CharField(max_length=16, blank=True)
    # The widget's id for a customer message; a resent message with the same id is not stored twice.
    # NULL, not "", for messages without one: the uniqueness constraint below skips NULLs.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # For a bot reply: the customer message it answers. One-to-one, so the database itself refuses
    # a second reply to the same message however many times the task runs.
    reply_to = models.OneToOneField("self", on_delete=models.CASCADE, null=True, blank=True, related_name="reply")
    intent = models.CharField(max_length=100, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    sources = models.JSONField(default=list, blank=True)  # [{"id", "question", "score"}] at answer time
    handoff_offered = models.BooleanField(default=False)
    # The answer gate's decision for a bot reply, why, and for `clarify` the entries offered.
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True)
    decision_reason = models.CharField(max_length=300, blank=True)
    options = models.JSONField(default=list, blank=True)  # [{"id", "question", "score"}]
    model_version = models.CharField(max_length=300, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # milliseconds: queue, retrieval, first_token, total
    feedback = models.CharField(max_length=8, choices=Feedback.choices, blank=True)
    # For an operator message: who wrote it (the name is kept if the account is removed).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=150, blank=True)
    # For a customer message: its sentiment score (-1..1) and label, once scored.
    sentiment = models.FloatField(null=True, blank=True)
    sentiment_label = models.CharField(max_length=16, blank=True)
    # For a customer message that is a complaint: what about and how serious (see Conversation).
    complaint_category = models.CharField(max_length=32, blank=True)
    complaint_severity = models.CharField(max_length=16, blank=True)
    # For a customer message the bot is to answer: True until its reply is stored (or a person takes
    # the conversation over). Runs of the reply task (`reply_attempts`) and when it was last queued
    # (`reply_dispatched_at`) let the sweeper re-queue a reply whose task was lost (a worker killed,
    # the broker restarted) and hand the conversation to a person after too many failed runs.
    reply_pending = models.BooleanField(default=False)
    reply_attempts = models.PositiveSmallIntegerField(default=0)
    reply_dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation_id", "seq"]
        indexes = [
            # The sweeper's scan: only the (few) messages still waiting for the bot.
            models.Index(fields=["reply_dispatched_at"], condition=Q(reply_pending=True), name="message_reply_pending"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.sender}: {self.text[:60]}"


class ContactRequest(models.Model):
    """An e-mail address and message a customer left when no operator took the chat in time."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="contact_requests")
    email = models.EmailField()
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Contact request from {self.email}"
