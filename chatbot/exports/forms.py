"""Console forms for the admin's part of the exports page: API tokens and visitor data requests."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from chatbot.sites.models import Organisation

ERASE_CONFIRMATION = "ERASE"


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'nightly warehouse load'.")
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        help_text="The token exports exactly the sites this console account may see.",
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        # Only the console accounts of the admin's own organisation.
        field.queryset = (
            get_user_model().objects.filter(is_active=True, operator__organisation=organisation).order_by("username")
        )


class VisitorRequestForm(forms.Form):
    ACTIONS = [("export", "Export their data"), ("erase", "Erase their data")]

    visitor = forms.UUIDField(label="Visitor id", help_text="The visitor's id, as shown in exports.")
    action = forms.ChoiceField(choices=ACTIONS)
    confirm = forms.CharField(
        required=False, help_text=f"To erase, type {ERASE_CONFIRMATION}. Erasure cannot be undone."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "erase" and (data.get("confirm") or "").strip() != ERASE_CONFIRMATION:
            self.add_error("confirm", f"Type {ERASE_CONFIRMATION} to confirm the erasure.")
        return data
