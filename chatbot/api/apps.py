from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chatbot.api"
    label = "api_v1"
    verbose_name = "REST API v1"
