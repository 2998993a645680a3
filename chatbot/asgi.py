"""ASGI entry point: HTTP through Django, websockets through Channels.

Run with `uvicorn chatbot.asgi:application` (see the README for the distributed setup).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")

# Django must be set up before the routing imports consumers (and through them, models).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from chatbot.routing import websocket_urlpatterns  # noqa: E402

if settings.CHATBOT_DISPATCH == "inprocess":
    # This process answers customers itself: load the model while the server starts.
    from chatbot.knowledge.answering import embedder_warm_up_in_background

    embedder_warm_up_in_background()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
