from django.urls import path, re_path

from chatbot.exports import api
from chatbot.exports.filters import ExportFormat

app_name = "api"

urlpatterns = [
    path("exports/messages.jsonl", api.export, {"export_format": ExportFormat.MESSAGES_JSONL}, name="messages_jsonl"),
    path("exports/messages.csv", api.export, {"export_format": ExportFormat.MESSAGES_CSV}, name="messages_csv"),
    path(
        "exports/conversations.csv",
        api.export,
        {"export_format": ExportFormat.CONVERSATIONS_CSV},
        name="conversations_csv",
    ),
    # Anything else under /api/v1/ gets the API's JSON 404, not Django's HTML page.
    re_path(r"^(?P<path>.*)$", api.not_found, name="not_found"),
]
