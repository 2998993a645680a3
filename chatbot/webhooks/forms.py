"""Console forms for webhook endpoints."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from chatbot.sites.models import Site
from chatbot.webhooks.models import EventType


class WebhookEndpointForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple, initial=list(EventType.values)
    )

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sites


class SecretRotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        min_value=0,
        max_value=24 * 7,
        initial=lambda: settings.CHATBOT_WEBHOOK_ROTATION_OVERLAP_H,
        help_text="The old secret keeps signing beside the new one this long; 0 drops it now (a leaked secret).",
    )
