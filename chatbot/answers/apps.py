from django.apps import AppConfig


class AnswersConfig(AppConfig):
    name = "chatbot.answers"
    verbose_name = "Answer quality"
