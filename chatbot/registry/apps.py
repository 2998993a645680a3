from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "chatbot.registry"
    label = "registry"
    verbose_name = "Model registry"
