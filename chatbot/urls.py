from django.contrib import admin
from django.urls import path

from chatbot.web import views

urlpatterns = [
    path("", views.demo_page, name="demo"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
