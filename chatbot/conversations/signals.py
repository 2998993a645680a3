"""What other apps hear about conversations. Conversations import none of their listeners: the
reply engine and sentiment connect in their `AppConfig.ready()`."""

from __future__ import annotations

from django.dispatch import Signal

# Customer messages were stored and their transaction committed; sent once per commit, with
# `messages` (a list of chatbot.conversations.models.Message, in commit order: one, or the batch a
# group commit stored together). Each one's `reply_pending` says whether the bot is to answer it.
# Listeners run in the storing request, in the order the apps are installed: they queue work (a
# reply each, a sentiment score for all) rather than do it.
customer_messages_stored = Signal()

# The lifecycle of a conversation, for listeners outside the chat itself (webhooks). Each is sent
# once per change by the service that owns it, after its transaction commits, in the storing
# request: listeners queue work rather than do it, and must not raise.

# A conversation was started; with `conversation`.
conversation_created = Signal()
# A message of any sender (customer, bot, operator, system) was stored; with `message`.
message_stored = Signal()
# The bot stopped answering and the conversation waits for a person; with `conversation` and
# `reason`: "customer_request", "bot" (the bot's answer handed over), "sentiment" or "reply_failed".
conversation_handed_off = Signal()
# An operator closed the conversation; with `conversation`.
conversation_closed = Signal()
# The customer rated the conversation 1-5; with `conversation` and `score`.
conversation_rated = Signal()
