from __future__ import annotations

from django.db import models

from chatbot.sites.models import Site


class IntentAction(models.TextChoices):
    ANSWER = "answer", "Answer from the FAQ"
    HANDOFF = "handoff", "Hand to a person"
    SMALLTALK = "smalltalk", "Reply with the response below"
    CUSTOM = "custom", "Custom (reply with the response below)"


class Intent(models.Model):
    """Something customers of a site want, with examples of how they say it and what the bot does.

    `intents train --site KEY` trains the site's classifier on these examples (FAQ entries join as
    one `faq` intent); the answer gate then acts on the predicted intent."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="intents")
    name = models.SlugField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    examples = models.JSONField(default=list, help_text="Example customer messages, one per item.")
    action = models.CharField(max_length=16, choices=IntentAction.choices, default=IntentAction.ANSWER)
    response = models.TextField(blank=True, help_text="The reply for smalltalk and custom intents.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="intent_name_unique_per_site")]
        ordering = ["site_id", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_action_display()})"
