from django.contrib import admin

from chatbot.console.models import CannedResponse, Note, Operator


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin[Operator]):
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
