from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "chatbot.usage"
    label = "usage"
    verbose_name = "Usage metering"
