from django.apps import AppConfig


class SentimentConfig(AppConfig):
    name = "chatbot.sentiment"
    label = "sentiment"
    verbose_name = "Sentiment"
