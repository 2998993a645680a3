from django.conf import settings
from django.urls import path

from chatbot.conversations.consumers import ChatConsumer, EchoConsumer

websocket_urlpatterns = [path("ws/chat/", ChatConsumer.as_asgi())]
if settings.CHATBOT_BENCH_ECHO:
    websocket_urlpatterns.append(path("ws/echo/", EchoConsumer.as_asgi()))
