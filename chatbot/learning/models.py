"""The learning loop's records: retraining runs with their progress and report, the frozen
golden sets new models are judged on, and sentiment labels people corrected."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from chatbot.sites.models import Site


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Finished"
    FAILED = "failed", "Failed"


class RunTrigger(models.TextChoices):
    CONSOLE = "console", "Console"
    SCHEDULE = "schedule", "Nightly schedule"
    COMMAND = "command", "Command line"


class TrainingRun(models.Model):
    """One retraining cycle: build the data set from the logs, train a candidate of each kind,
    score it and the active model on the kind's golden set, promote it if it is not worse.

    `results` holds one report per kind: {"status", "candidate", "active", "decision", "reason",
    "version", "examples", "seconds"}. At most one run is open (queued or running) at a time:
    `is_open` is True only then, and a partial unique index refuses a second."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, help_text="Whose logs; empty for every site."
    )
    kinds = models.JSONField(default=list)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    requested_by = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    is_open = models.BooleanField(default=True)
    stage = models.CharField(max_length=200, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1 over the whole run.")
    dataset_path = models.CharField(max_length=500, blank=True)
    dataset_stats = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["is_open"], condition=models.Q(is_open=True), name="one_open_training_run")
        ]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"


class GoldenSet(models.Model):
    """The examples a kind's models are judged on, written once and never changed: every
    candidate and the active model are scored on exactly these, so their figures compare. The
    checksum is verified before each use; training data never contains their questions."""

    kind = models.CharField(max_length=16)
    scope = models.CharField(max_length=120, blank=True, default="")
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    examples = models.PositiveIntegerField()
    source = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "scope"], name="one_golden_set_per_kind_and_scope")]

    def __str__(self) -> str:
        return f"golden {self.kind}" + (f" ({self.scope})" if self.scope else "")


class SentimentCorrection(models.Model):
    """A person's sentiment label for a customer message: training data for the sentiment model."""

    message = models.OneToOneField(
        "conversations.Message", on_delete=models.CASCADE, related_name="sentiment_correction"
    )
    label = models.CharField(max_length=16)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.label} for message {self.message_id}"
