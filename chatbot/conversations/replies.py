"""Generating the bot's reply to one customer message: the body of the `generate_reply` task,
run the same way by Celery workers and by the embedded in-process dispatcher."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils import timezone

from chatbot.conversations import events
from chatbot.conversations.models import ConversationStatus, Message, Sender
from chatbot.conversations.selectors import conversation_history
from chatbot.conversations.services import bot_reply_store
from chatbot.knowledge.answering import responder_for
from intents.types import Answer, Turn

logger = logging.getLogger(__name__)


def reply_generate(*, message_id: int) -> Message | None:
    """Answer a customer message, streaming the reply's tokens, and store the reply once."""
    started = time.perf_counter()
    message = Message.objects.select_related("conversation__site").filter(pk=message_id, sender=Sender.CUSTOMER).first()
    if message is None:
        logger.warning("reply requested for message %s, which is not a stored customer message", message_id)
        return None
    existing = Message.objects.filter(reply_to=message).first()
    if existing is not None:
        # A redelivered task: the reply is stored; announce it again in case the first run died
        # between commit and publish. Clients drop the duplicate by its seq.
        events.publish_message(existing)
        return existing
    conversation = message.conversation
    if conversation.status != ConversationStatus.BOT:
        return None

    queued_ms = (timezone.now() - message.created_at).total_seconds() * 1000
    history = [
        Turn(sender=m.sender, text=m.text, unanswered=m.decision == "handoff")  # type: ignore[arg-type]
        for m in conversation_history(
            conversation_id=conversation.pk, before_seq=message.seq, turns=settings.CHATBOT_HISTORY_TURNS
        )
    ]
    events.publish_typing(conversation_id=conversation.pk, sender="bot")
    responder = responder_for(site=conversation.site)
    delay_s = settings.CHATBOT_STREAM_DELAY_MS / 1000
    first_token_ms: float | None = None
    final: Answer | None = None
    for piece in responder.answer(history):
        if isinstance(piece, Answer):
            final = piece
            break
        if first_token_ms is None:
            first_token_ms = (time.perf_counter() - started) * 1000
        elif delay_s:
            time.sleep(delay_s)
        events.publish_token(conversation_id=conversation.pk, reply_to=message.seq, delta=piece)
    if final is None:
        raise RuntimeError("the responder ended without an Answer")

    # Milliseconds since the customer's message was stored: waiting for a worker, until the
    # first streamed token, until the reply was complete; plus the responder's own stages.
    elapsed_ms = (time.perf_counter() - started) * 1000
    timings = {
        "queue": round(queued_ms, 1),
        **final.timings_ms,
        "first_token": round(queued_ms + (first_token_ms if first_token_ms is not None else elapsed_ms), 1),
        "total": round(queued_ms + elapsed_ms, 1),
    }
    reply = bot_reply_store(customer_message=message, answer=final, timings=timings)
    if reply is None:
        logger.info("conversation %s was taken over; reply to message %s dropped", conversation.pk, message_id)
    return reply
