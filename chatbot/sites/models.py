from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from chatbot.sites.origins import InvalidOrigin, validate_allowed_origin
from intents.languages import normalise_language
from intents.texts import text

_hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #3b5bdb.")


def _validate_origins(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("A list of origins such as https://shop.example.com.")
    for item in value:
        try:
            validate_allowed_origin(item)
        except InvalidOrigin as exc:
            raise ValidationError(str(exc)) from exc


def _validate_strings(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError('A list of words, such as ["en", "zh-hans"] or ["Lumen & Loom"].')


def _validate_greetings(value: object) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError('Greetings by language, such as {"zh-hans": "您好！有什么可以帮您？"}.')


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
    language = models.CharField(
        max_length=16, default="en", help_text="The site's default language (en, zh-hans): the widget's and the bot's."
    )
    languages = models.JSONField(
        default=list,
        blank=True,
        validators=[_validate_strings],
        help_text='Every language the site answers in, e.g. ["en", "zh-hans"]; empty: only its default language.',
    )
    greetings = models.JSONField(
        default=dict,
        blank=True,
        validators=[_validate_greetings],
        help_text=(
            'The greeting in other languages, e.g. {"zh-hans": "您好！"}; `greeting` is the default language\'s, '
            "and a language without one gets the built-in greeting in that language."
        ),
    )
    segmentation_terms = models.JSONField(
        default=list,
        blank=True,
        validators=[_validate_strings],
        help_text=(
            "Product and brand names Chinese word segmentation keeps whole (a custom dictionary for jieba), "
            'e.g. ["Lumen & Loom", "北欧风羊毛毯"].'
        ),
    )
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
    language_gates = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "The answer gate of each language other than the default one, tuned by `gate_tune --language`: "
            '{"zh-hans": {"answer_threshold": 0.4, "clarify_margin": 0.03, "reranker": {...}}}; '
            "a language without one uses the fields above."
        ),
    )
    retrieval_reranker = models.JSONField(
        null=True,
        blank=True,
        help_text="The site's own reranker weights for hybrid retrieval (fit by `gate_tune`); empty: the default.",
    )
    embedding_models = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "The site's own sentence encoder per language, fine-tuned on its FAQ by `encoder_finetune`: "
            '{"en": "<folder>"} (relative to CHATBOT_MODEL_DIR or absolute); a language without one uses the '
            "deployment's encoder (CHATBOT_EMBEDDING_MODEL)."
        ),
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

    @property
    def served_languages(self) -> list[str]:
        """The languages the site answers in, its default first."""
        default = normalise_language(self.language)
        others = [normalise_language(code) for code in self.languages if normalise_language(code) != default]
        return [default, *dict.fromkeys(others)]

    def greeting_for(self, language: str) -> str:
        """The greeting in `language`: the site's own, else the built-in one in that language."""
        language = normalise_language(language)
        own: dict[str, str] = {normalise_language(k): v for k, v in self.greetings.items() if v.strip()}
        if language in own:
            return own[language]
        if language == normalise_language(self.language):
            return self.greeting
        return text("greeting", language)

    def widget_settings(self) -> dict[str, object]:
        return {
            "name": self.name,
            "greeting": self.greeting,
            "color": self.primary_color,
            "text_color": self.text_color,
            "language": normalise_language(self.language),
            # The widget greets a visitor whose browser prefers another served language in it.
            "languages": self.served_languages,
            "greetings": {language: self.greeting_for(language) for language in self.served_languages},
        }
