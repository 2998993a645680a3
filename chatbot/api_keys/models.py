"""API keys of the public REST API (chatbot.api): one site each, with scopes.

A key is shown once, when it is made; only its SHA-256 hash is stored. The key's public prefix
(`cbk_` and 12 characters) finds the row; the rest is compared in constant time."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from chatbot.sites.models import Site


class Scope(models.TextChoices):
    CHAT = "chat", "headless chat"
    KNOWLEDGE = "knowledge", "FAQ entries"
    TRANSCRIPTS = "transcripts", "transcripts"
    USAGE = "usage", "usage figures"
    WEBHOOKS = "webhooks", "webhook endpoints"


class ApiKey(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, help_text="What the key is for.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)  # `cbk_` + 12: finds the row
    key_hash = models.CharField(max_length=64, editable=False)  # sha256 hex of the whole key
    scopes = models.JSONField(default=list, help_text="Some of: chat, knowledge, transcripts, usage, webhooks.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once a minute per key (chatbot.api_keys.services.api_key_authenticate).
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name or 'API key'} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
