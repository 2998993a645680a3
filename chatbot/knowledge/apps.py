from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "chatbot.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge (FAQ)"

    def ready(self) -> None:
        from chatbot.knowledge import signals  # noqa: F401
