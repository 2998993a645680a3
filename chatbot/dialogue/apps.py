from django.apps import AppConfig


class DialogueConfig(AppConfig):
    name = "chatbot.dialogue"
    label = "dialogue"
    verbose_name = "Dialogue model"
