from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "chatbot.exports"
    label = "exports"
    verbose_name = "Transcript exports"
