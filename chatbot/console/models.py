"""The operator console's own records: who may work on which site, canned responses and
internal notes."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from chatbot.conversations.models import Conversation
from chatbot.sites.models import DEFAULT_ORGANISATION_SLUG, Organisation, Site, default_organisation_id


class Role(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    # An admin of the operator's organisation: every site of it, its knowledge, exports, keys,
    # webhooks and usage; never another organisation's.
    ADMIN = "admin", _("Organisation admin")


class Operator(models.Model):
    """A staff member of the console, in one organisation. Its admins work on every site of the
    organisation and manage its knowledge, exports, API keys and webhooks; operators work on the
    sites of it they are given."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, default=default_organisation_id, related_name="operators"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OPERATOR)
    sites = models.ManyToManyField(Site, blank=True, related_name="operators")
    display_name = models.CharField(max_length=150, blank=True, help_text="Shown to customers; default: username.")
    # Set by the console's heartbeat while a console is open; an operator is online until then.
    online_until = models.DateTimeField(null=True, blank=True)
    # The console's language for this operator (`chatbot.console.middleware`); empty: the browser's.
    language = models.CharField(
        max_length=16, blank=True, choices=settings.LANGUAGES, help_text="The console's language; empty: the browser's."
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_platform_staff(self) -> bool:
        """Whoever runs the install itself: a superuser, or an admin of the default organisation
        (a single-tenant install's own staff). Only they retrain the models every organisation
        shares, from every organisation's logs."""
        if self.user.is_superuser:
            return True
        return self.is_admin and self.organisation.slug == DEFAULT_ORGANISATION_SLUG


class CannedResponse(models.Model):
    """A ready answer an operator inserts with its shortcut (e.g. `/refund`)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, default=default_organisation_id, related_name="canned_responses"
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
        help_text="Empty: available on every site of the organisation.",
    )
    shortcut = models.SlugField(max_length=40)
    title = models.CharField(max_length=200)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"

    def clean(self) -> None:
        if self.site is not None and self.site.organisation_id != self.organisation_id:
            raise ValidationError({"site": "The site is of another organisation."})


class Note(models.Model):
    """An internal note on a conversation. Operators see it; the customer never does."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    author_name = models.CharField(max_length=150)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation_id", "created_at", "id"]

    def __str__(self) -> str:
        return f"Note by {self.author_name} on conversation {self.conversation_id}"
