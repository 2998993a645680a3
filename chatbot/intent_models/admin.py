from django.contrib import admin

from chatbot.intent_models.models import Intent


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin[Intent]):
    list_display = ("name", "site", "action", "is_active", "updated_at")
    list_filter = ("site", "action", "is_active")
    search_fields = ("name", "description")
