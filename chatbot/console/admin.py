from typing import Any

from django import forms
from django.contrib import admin

from chatbot.console.models import CannedResponse, Note, Operator


class OperatorForm(forms.ModelForm[Operator]):
    class Meta:
        model = Operator
        fields = ("user", "organisation", "role", "sites", "display_name", "language", "online_until")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        organisation, sites = data.get("organisation"), data.get("sites")
        if organisation is not None and sites is not None:
            strangers = [site.key for site in sites if site.organisation_id != organisation.pk]
            if strangers:
                self.add_error("sites", f"Not sites of {organisation}: {', '.join(strangers)}.")
        return data


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin[Operator]):
    form = OperatorForm
    list_display = ("user", "display_name", "organisation", "role", "online_until")
    list_filter = ("organisation", "role", "sites")
    filter_horizontal = ("sites",)
    search_fields = ("user__username", "display_name")


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin[CannedResponse]):
    list_display = ("shortcut", "title", "organisation", "site")
    list_filter = ("organisation", "site")
    search_fields = ("shortcut", "title", "text")


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin[Note]):
    list_display = ("conversation", "author_name", "created_at")
    raw_id_fields = ("conversation",)
    readonly_fields = ("author",)
