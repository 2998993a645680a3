"""API tokens: how an analytics pipeline pulls transcript exports without a console session."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token for the export API. It acts as its user: it exports exactly the sites that
    user's console account may see. Only a hash of the token is stored; the token itself is shown
    once, when it is created."""

    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'nightly warehouse load'.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)  # sha256 hex of the token
    prefix = models.CharField(max_length=8, editable=False)  # the token's first characters, to recognise it
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
