from __future__ import annotations

from typing import Any

from django import forms

from chatbot.api_keys.models import Scope
from chatbot.sites.models import Site


class ApiKeyForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    name = forms.CharField(max_length=100, required=False, label="Name")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class MonthForm(forms.Form):
    month = forms.RegexField(regex=r"^\d{4}-(0[1-9]|1[0-2])$", error_messages={"invalid": "Use YYYY-MM."})
