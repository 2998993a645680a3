from django.urls import path

from chatbot.learning import views

app_name = "learning"

urlpatterns = [
    path("", views.learning_index, name="index"),
    path("retrain/", views.learning_retrain, name="retrain"),
    path("runs/<int:run_id>/status.json", views.learning_run_status, name="run_status"),
    path("runs/<int:run_id>/dataset.jsonl", views.learning_run_dataset, name="run_dataset"),
    path(
        "conversations/<int:conversation_id>/messages/<int:seq>/sentiment/",
        views.sentiment_correct,
        name="sentiment_correct",
    ),
]
