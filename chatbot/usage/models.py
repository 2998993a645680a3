"""Usage metering: what each site used, per day, the figures an invoice is built from.

One row per site, day and metric, incremented in place by a single upsert
(chatbot.usage.services.usage_add), so concurrent writers never lose a count."""

from __future__ import annotations

from django.db import models

from chatbot.sites.models import Site


class Metric:
    """The counted metrics. Bot answers are counted in total and by the gate's decision
    (`bot_answers:answer`, `bot_answers:clarify`, `bot_answers:handoff`)."""

    API_CALLS = "api_calls"
    BOT_ANSWERS = "bot_answers"
    GENERATED_TOKENS = "generated_tokens"
    # A reply the engine did not make because the site's monthly answer quota was used up.
    QUOTA_REFUSALS = "quota_refusals"

    @staticmethod
    def bot_answers_by(decision: str) -> str:
        return f"bot_answers:{decision or 'answer'}"


class UsageCounter(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="usage_counters")
    day = models.DateField()
    metric = models.CharField(max_length=40)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "day", "metric"], name="usage_counter_site_day_metric")]
        indexes = [models.Index(fields=["day", "metric"])]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} {self.metric}={self.n}"
