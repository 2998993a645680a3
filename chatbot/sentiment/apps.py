from django.apps import AppConfig


class SentimentConfig(AppConfig):
    name = "chatbot.sentiment"
    label = "sentiment"
    verbose_name = "Sentiment"

    def ready(self) -> None:
        # Django's way of connecting receivers: apps.py is imported before any model can be, so the
        # module that uses the models is imported here, once the registry is ready.
        from chatbot.sentiment import receivers  # noqa: F401
