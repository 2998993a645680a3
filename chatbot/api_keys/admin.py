from django.contrib import admin

from chatbot.api_keys.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Read-only here: keys are made where their secret can be shown once (the console's API keys
    page, `manage.py api_keys create`); the admin can revoke them by setting `revoked_at`."""

    list_display = ("prefix", "name", "site", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("site",)
    readonly_fields = ("site", "prefix", "scopes", "created_by", "created_at", "last_used_at")
    fields = ("site", "name", "prefix", "scopes", "created_by", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: object) -> bool:
        return False
