from django.urls import path

from chatbot.api import views

app_name = "api_console"

urlpatterns = [
    path("keys/", views.keys, name="keys"),
    path("keys/create", views.key_create, name="key_create"),
    path("keys/<int:key_id>/revoke", views.key_revoke, name="key_revoke"),
    path("usage/", views.usage, name="usage"),
    path("usage/invoice.csv", views.invoice_csv, name="invoice_csv"),
]
