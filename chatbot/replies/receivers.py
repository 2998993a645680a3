"""What the reply engine does when the records below it change: it answers a stored customer
message that waits for the bot, and re-embeds an edited FAQ."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from chatbot.conversations.models import Message
from chatbot.conversations.signals import customer_messages_stored
from chatbot.knowledge.signals import faq_edited
from chatbot.replies.dispatch import faq_refresh_dispatch, replies_dispatch


@receiver(customer_messages_stored, dispatch_uid="replies.customer_messages_stored")
def _answer(sender: Any, *, messages: list[Message], **_: Any) -> None:
    waiting = [(message.pk, message.conversation_id) for message in messages if message.reply_pending]
    if waiting:
        replies_dispatch(waiting)


@receiver(faq_edited, dispatch_uid="replies.faq_edited")
def _re_embed(sender: Any, *, site_id: int, **_: Any) -> None:
    faq_refresh_dispatch(site_id)
