from django.urls import path

from chatbot.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data", views.data, name="data"),
    path("unanswered", views.unanswered, name="unanswered"),
    path("hot-topics", views.hot_topics, name="hot_topics"),
    path("hot-topics/refresh", views.hot_topics_refresh, name="hot_topics_refresh"),
]
