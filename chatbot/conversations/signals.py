"""What other apps hear about conversations. Conversations import none of their listeners: the
reply engine and sentiment connect in their `AppConfig.ready()`."""

from __future__ import annotations

from django.dispatch import Signal

# A customer message was stored and its transaction committed; sent once per message, with
# `message` (a chatbot.conversations.models.Message). Its `reply_pending` says whether the bot is
# to answer it. Listeners run in the storing request, in the order the apps are installed: they
# queue work (a reply, a sentiment score) rather than do it.
customer_message_stored = Signal()
