from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "chatbot.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge (FAQ)"

    def ready(self) -> None:
        # Django's way of connecting receivers: apps.py is imported before any model can be, so the
        # module that uses the models is imported here, once the registry is ready.
        from chatbot.knowledge import signals  # noqa: F401
