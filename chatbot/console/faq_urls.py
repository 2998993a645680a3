from django.urls import path

from chatbot.console import faq_views as views

app_name = "knowledge"

urlpatterns = [
    path("", views.faq_list, name="faq_list"),
    path("new/", views.faq_create, name="faq_create"),
    path("<int:entry_id>/", views.faq_edit, name="faq_edit"),
    path("<int:entry_id>/active/", views.faq_active, name="faq_active"),
    path("<int:entry_id>/delete/", views.faq_delete, name="faq_delete"),
    path("export.csv", views.faq_export, name="faq_export"),
    path("import/", views.faq_import, name="faq_import"),
    path("unanswered/", views.unanswered, name="unanswered"),
]
