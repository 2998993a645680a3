"""The public REST API v1, built with django-ninja: endpoints are typed with pydantic, which
validates requests and generates the OpenAPI schema (/api/v1/openapi.json) and the interactive
docs (/api/v1/docs, Swagger UI served from ninja's static files)."""

from __future__ import annotations

from ninja import NinjaAPI

from chatbot.api import chat, exports, knowledge, transcripts, usage, webhooks
from chatbot.api.errors import install_error_handlers

api = NinjaAPI(
    title="Chatbot desk API",
    version="1",
    description="Headless chat, knowledge, transcripts, usage and webhooks of one site per API key. "
    'Send `Authorization: Bearer <key>`. Errors are `{"error": {"code", "message"}}`.',
    urls_namespace="api_v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)
api.add_router("/", chat.router)
api.add_router("/", knowledge.router)
api.add_router("/", transcripts.router)
api.add_router("/", usage.router)
api.add_router("/", webhooks.router)
api.add_router("/", exports.router)
