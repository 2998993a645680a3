from django.contrib import admin

from chatbot.knowledge.models import FaqEntry


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin[FaqEntry]):
    list_display = ("question", "site", "is_active", "language", "updated_at")
    list_filter = ("site", "is_active", "language")
    search_fields = ("question", "answer")
    readonly_fields = ("embedding_model", "embedded_hash", "created_at", "updated_at")
