from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "chatbot.web"
    label = "web"
    verbose_name = "Web pages"
