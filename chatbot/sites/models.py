from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from chatbot.sites.origins import InvalidOrigin, validate_allowed_origin

_hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #3b5bdb.")


def _validate_origins(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("A list of origins such as https://shop.example.com.")
    for item in value:
        try:
            validate_allowed_origin(item)
        except InvalidOrigin as exc:
            raise ValidationError(str(exc)) from exc


class Plan(models.Model):
    """What an organisation pays for: its monthly answer quota and each API key's rate. The plans
    themselves (e.g. free / pro / enterprise) are data, defined in the admin."""

    name = models.CharField(max_length=100, unique=True)
    monthly_answer_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Bot answers per calendar month over all the organisation's sites; empty: unlimited.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="API calls per minute for each API key; empty: unlimited."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


DEFAULT_ORGANISATION_SLUG = "default"


class Organisation(models.Model):
    """A customer of the service: it holds sites, operators, API keys and a plan, and every query of
    the console, the API and the exports is scoped to it."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisations",
        help_text="Empty: no quota and no rate limit (a self-hosted install).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_organisation_id() -> int:
    """The organisation a site or operator joins when none is given: the one a single-tenant install
    (and every site made before organisations) lives in. Reads only the primary key, so a
    migration that calls it keeps working when the model gains columns later."""
    pk = Organisation.objects.filter(slug=DEFAULT_ORGANISATION_SLUG).values_list("pk", flat=True).first()
    if pk is None:
        pk = Organisation.objects.create(slug=DEFAULT_ORGANISATION_SLUG, name="Default organisation").pk
    return pk


def _default_threshold() -> float:
    return float(settings.CHATBOT_ANSWER_THRESHOLD)


def _default_clarify_margin() -> float:
    return float(settings.CHATBOT_CLARIFY_MARGIN)


class Site(models.Model):
    """A website that embeds the widget, identified publicly by its key."""

    key = models.SlugField(max_length=64, unique=True, help_text="Public key used in the embed tag.")
    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, default=default_organisation_id, related_name="sites"
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[_validate_origins],
        help_text='Origins the widget may run on, e.g. ["https://shop.example.com", "https://*.example.com"].',
    )
    allow_own_origin = models.BooleanField(
        default=False, help_text="Also allow pages served by this server itself (the demo page)."
    )
    greeting = models.TextField(default="Hi! How can we help you today?")
    language = models.CharField(max_length=16, default="en")
    primary_color = models.CharField(max_length=7, default="#3b5bdb", validators=[_hex_colour])
    text_color = models.CharField(max_length=7, default="#ffffff", validators=[_hex_colour])
    answer_threshold = models.FloatField(
        default=_default_threshold,
        help_text=(
            "Lowest FAQ match score (0-1: the reranker's probability with hybrid retrieval, the cosine with dense) "
            "the bot answers with; below it, it offers a human."
        ),
    )
    clarify_margin = models.FloatField(
        default=_default_clarify_margin,
        help_text="When the two best FAQ matches are closer than this, the bot asks which one is meant.",
    )
    retrieval_reranker = models.JSONField(
        null=True,
        blank=True,
        help_text="The site's own reranker weights for hybrid retrieval (fit by `gate_tune`); empty: the default.",
    )
    intent_model_dir = models.CharField(
        max_length=500,
        blank=True,
        help_text="Directory of the site's intent classifier (written by `intents train --site KEY`); empty: none.",
    )
    escalate_on_negative_sentiment = models.BooleanField(
        default=False,
        help_text="Hand a strongly negative or worsening conversation to a person before the customer asks.",
    )
    is_active = models.BooleanField(default=True)
    # Bumped whenever an FAQ entry of the site changes, so workers know their cached index is stale.
    faq_version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def widget_settings(self) -> dict[str, str]:
        return {
            "name": self.name,
            "greeting": self.greeting,
            "color": self.primary_color,
            "text_color": self.text_color,
            "language": self.language,
        }
