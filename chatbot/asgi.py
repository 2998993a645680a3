"""ASGI entry point: HTTP through Django, websockets through Channels.

Run with `uvicorn chatbot.asgi:application --lifespan on` (see the README for the distributed
setup): the lifespan events start the reply sweeper (chatbot.lifespan).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")

# Django must be set up before the routing imports consumers (and through them, models).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatbot.lifespan import lifespan_app  # noqa: E402
from chatbot.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
        # Start-up and shutdown of the web process: the reply sweeper, the models' warm-up.
        "lifespan": lifespan_app,
    }
)
