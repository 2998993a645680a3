from django.contrib import admin

from chatbot.webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    list_display = ("url", "site", "is_active", "consecutive_failures", "disabled_at", "created_at")
    list_filter = ("is_active", "site")
    search_fields = ("url", "description")
    readonly_fields = ("consecutive_failures", "failing_since", "disabled_at", "created_at", "updated_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ("public_id", "event_type", "endpoint", "status", "attempts", "response_code", "created_at")
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "public_id")
    raw_id_fields = ("endpoint", "replay_of")
    readonly_fields = ("public_id", "body", "attempt_log", "created_at", "finished_at")
