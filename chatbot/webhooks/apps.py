from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "chatbot.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The conversations' lifecycle signals queue the deliveries; conversations import nothing of this app.
        from chatbot.webhooks import receivers  # noqa: F401
