from django.contrib import admin
from django.urls import include, path, re_path

from chatbot.api.urls import not_found as api_not_found
from chatbot.web import views

urlpatterns = [
    path("", views.demo_page, name="demo"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The operator console: inbox and conversations, knowledge, analytics, exports, learning, webhooks.
    path("console/", include("chatbot.console.urls")),
    path("console/knowledge/", include("chatbot.console.faq_urls")),
    path("console/analytics/", include("chatbot.analytics.urls")),
    path("console/exports/", include("chatbot.exports.urls")),
    path("console/learning/", include("chatbot.learning.urls")),
    # The API's console pages: keys, usage and the monthly invoice CSV.
    path("console/api/", include("chatbot.api.console_urls")),
    path("console/webhooks/", include("chatbot.webhooks.urls")),
    # The REST API v1 (django-ninja): chat, knowledge, transcripts and usage by per-site API key, the
    # transcript export by console users' tokens, the schema and docs; JSON errors on every path.
    path("api/v1/", include("chatbot.api.urls")),
    # Other versions and paths under /api/: the API's JSON 404.
    re_path(r"^api(?:/(?P<path>.*))?$", api_not_found),
]
