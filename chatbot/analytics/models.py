"""Stored hot-topics reports: embedding and clustering a window's questions takes seconds to
minutes, so a worker computes them (hourly, or when asked) and the dashboard reads the result.

The customers' words are not copied here: a topic points at its example messages, so erasing a
visitor's data (which deletes their messages) removes them from every report too. What stays is
counts, which name nobody.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from django.db import models
from django.db.models import Q

from chatbot.conversations.models import Message


def scope_key(site_ids: Collection[int]) -> str:
    """A fixed-length key for a set of sites (one operator's "all my sites" may be hundreds)."""
    return hashlib.sha256(",".join(str(i) for i in sorted(set(site_ids))).encode()).hexdigest()


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Being computed"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class TrendDirection(models.TextChoices):
    # The values of intents.topics.Direction.
    NEW = "new", "New"
    RISING = "rising", "Rising"
    STEADY = "steady", "Steady"
    FALLING = "falling", "Falling"


class HotTopicsReport(models.Model):
    """The hot topics of a set of sites over the `days` days up to `until`, compared with the
    `days` days before. Requested as `pending`; the worker fills it in (`done`) or gives up
    (`failed`, with `error`)."""

    scope = models.CharField(max_length=64)  # scope_key(site_ids)
    site_ids = models.JSONField(default=list)
    days = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    error = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField(null=True, blank=True)  # the window: [since, until)
    until = models.DateTimeField(null=True, blank=True)
    # Customer questions (small talk left out) in the window and in the previous one, and how many
    # of each were clustered: a uniform sample when there were more than the cap.
    questions = models.PositiveIntegerField(default=0)
    previous_questions = models.PositiveIntegerField(default=0)
    sampled = models.PositiveIntegerField(default=0)
    previous_sampled = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["scope", "-requested_at"])]
        constraints = [
            # One computation at a time per set of sites, however many operators press Refresh.
            models.UniqueConstraint(
                fields=["scope"], condition=Q(status="pending"), name="hot_topics_one_pending_per_scope"
            )
        ]

    def __str__(self) -> str:
        return f"Hot topics of sites {self.site_ids} ({self.status})"


class HotTopic(models.Model):
    report = models.ForeignKey(HotTopicsReport, on_delete=models.CASCADE, related_name="topics")
    rank = models.PositiveSmallIntegerField()  # 1 = the largest
    count = models.PositiveIntegerField()  # questions in the window (an estimate when sampled)
    previous_count = models.PositiveIntegerField()
    trend = models.CharField(max_length=8, choices=TrendDirection.choices)
    change_percent = models.IntegerField(null=True, blank=True)  # None: nothing the window before
    daily = models.JSONField(default=list)  # per 24 h: the previous window's days, then the window's
    cohesion = models.FloatField()  # mean similarity of the clustered questions to their centre

    class Meta:
        ordering = ["report_id", "rank"]
        constraints = [models.UniqueConstraint(fields=["report", "rank"], name="hot_topic_rank_unique")]

    def __str__(self) -> str:
        return f"Hot topic {self.rank} of report {self.report_id}"


class HotTopicExample(models.Model):
    """A question representative of a topic; the first (rank 1) labels it."""

    topic = models.ForeignKey(HotTopic, on_delete=models.CASCADE, related_name="examples")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["topic_id", "rank"]

    def __str__(self) -> str:
        return f"Example {self.rank} of hot topic {self.topic_id}"
