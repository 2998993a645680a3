from channels.auth import AuthMiddlewareStack
from django.conf import settings
from django.urls import path

from chatbot.console.consumers import ConsoleConsumer
from chatbot.conversations.consumers import ChatConsumer, EchoConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    # Operators are known by their session cookie; the widget's socket needs no session.
    path("ws/console/", AuthMiddlewareStack(ConsoleConsumer.as_asgi())),
]
if settings.CHATBOT_BENCH_ECHO:
    websocket_urlpatterns.append(path("ws/echo/", EchoConsumer.as_asgi()))
