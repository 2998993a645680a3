from django.contrib import admin

from chatbot.sites.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ("name", "key", "is_active", "language", "answer_threshold", "clarify_margin", "created_at")
    search_fields = ("name", "key")
    readonly_fields = ("faq_version", "created_at")
