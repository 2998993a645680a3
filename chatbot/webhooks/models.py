"""Webhook endpoints of a site and the deliveries of events to them."""

from __future__ import annotations

import uuid

from django.db import models

from chatbot.conversations.models import Conversation
from chatbot.sites.models import Site


class EventType(models.TextChoices):
    CONVERSATION_CREATED = "conversation.created", "A conversation started"
    MESSAGE_CREATED = "message.created", "A message was stored (customer, bot, operator or system)"
    CONVERSATION_HANDOFF = "conversation.handoff", "A conversation was handed to a person"
    CONVERSATION_CLOSED = "conversation.closed", "An operator closed a conversation"
    RATING_CREATED = "rating.created", "The customer rated a conversation"


class WebhookEndpoint(models.Model):
    """A URL of the site's owner that receives the events it subscribes to, signed with its secret.

    The secret is kept readable (the console shows it; deliveries are signed with it). While a
    rotation's overlap lasts, deliveries are signed with the previous secret too, so a receiver
    can switch over at its own pace. An endpoint that keeps failing is disabled (`disabled_at`,
    `disabled_reason`) until someone enables it again."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text='The event types it receives, e.g. ["message.created"].')
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # The current run of failed attempts (reset by a success): what disables an endpoint.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site_id", "pk"]
        indexes = [models.Index(fields=["site", "is_active"])]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint, with every attempt to deliver it. `body` is the exact JSON sent,
    the same on every attempt and replay (only the signature's timestamp changes)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    # The conversation the event is about: erasing a visitor's data (which deletes their
    # conversations) deletes the deliveries that carry their words too.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_deliveries"
    )
    body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # Each attempt: {"at", "response_code", "duration_ms", "error"}.
    attempt_log = models.JSONField(default=list, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replays")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"
