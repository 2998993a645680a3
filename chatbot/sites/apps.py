from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "chatbot.sites"
    label = "sites"
    verbose_name = "Sites"
