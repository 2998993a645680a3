from django.urls import path

from chatbot.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.index, name="index"),
    path("download/", views.download, name="download"),
    path("tokens/", views.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("visitor/", views.visitor_request, name="visitor_request"),
]
