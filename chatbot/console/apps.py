from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "chatbot.console"
    label = "console"
    verbose_name = "Operator console"
