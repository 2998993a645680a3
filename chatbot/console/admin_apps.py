"""The admin app, with this project's admin site (chatbot.console.admin_site) as its default site:
`admin.site` and every `@admin.register` use it. Kept apart from admin_site.py, which imports forms and
models and so may only load once the apps are ready."""

from django.contrib.admin.apps import AdminConfig


class ChatbotAdminConfig(AdminConfig):
    default_site = "chatbot.console.admin_site.ChatbotAdminSite"
