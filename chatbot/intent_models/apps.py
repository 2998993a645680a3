from django.apps import AppConfig


class IntentsConfig(AppConfig):
    # The Django side of intent understanding (commands, later the admin-editable intents);
    # the ML itself is the top-level `intents` package, which never imports Django.
    name = "chatbot.intent_models"
    label = "intent_models"
    verbose_name = "Intents"
