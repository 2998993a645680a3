from __future__ import annotations

from django.db import models


class ModelKind(models.TextChoices):
    DIALOGUE = "dialogue", "Dialogue"
    INTENTS = "intents", "Intents"
    SENTIMENT = "sentiment", "Sentiment"


class ModelVersion(models.Model):
    """One trained model: where its files are, what it was trained on and how well it scored.

    At most one version per kind and scope is active (a partial unique index, so the database
    itself refuses a second); workers serve the active one. The scope is "" for models every site
    shares (dialogue, sentiment) and "site:KEY" for a site's own (its intent classifier). Only
    `services.model_version_promote` and `model_version_rollback` change which."""

    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    name = models.CharField(max_length=200, help_text="e.g. smollm2-bitext-20261125-1612; unique per kind.")
    scope = models.CharField(
        max_length=120, blank=True, default="", help_text='"" for a model all sites share, "site:KEY" for one site\'s.'
    )
    path = models.CharField(max_length=500, help_text="The directory holding the model's files.")
    base_model = models.CharField(max_length=300, blank=True)
    manifest = models.JSONField(
        default=dict, blank=True, help_text="The training data: files, row counts, sha256, options."
    )
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True, help_text="When it was last made active.")
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="model_version_name_unique_per_kind"),
            # Also the index the active-version lookup uses on every worker task.
            models.UniqueConstraint(
                fields=["kind", "scope"],
                condition=models.Q(is_active=True),
                name="model_version_one_active_per_kind_and_scope",
            ),
        ]
        ordering = ["kind", "-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}" + (f" ({self.scope})" if self.scope else "")


class ActivationAction(models.TextChoices):
    PROMOTE = "promote", "Promote"
    ROLLBACK = "rollback", "Roll back"


class ActivationEvent(models.Model):
    """A version became active. The events of a kind form a stack: a promote pushes, a rollback
    pops back to `previous`, so repeated rollbacks walk further back instead of flip-flopping."""

    # PROTECT: a version that was ever active stays, so the history (and rollback) stays whole.
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="activations")
    action = models.CharField(max_length=16, choices=ActivationAction.choices)
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The activation in force before this one; a rollback returns to it.",
    )
    at = models.DateTimeField(auto_now_add=True)
    by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.model_version} at {self.at:%Y-%m-%d %H:%M}"
