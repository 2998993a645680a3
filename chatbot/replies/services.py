"""Generating the bot's replies: the body of the `reply_generate` task, run the same way by Celery
workers and by the embedded in-process dispatcher.

A conversation's messages are answered one at a time and in order, whichever worker runs which
task: one run holds the conversation's reply lock and answers every message still waiting, oldest
first; a task that finds the lock held leaves its message to that run. Each message is answered at
most once (the reply is keyed to it), its run is counted, and a run stops streaming as soon as a
person takes the conversation over."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from chatbot.conversations import events
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender
from chatbot.conversations.selectors import conversation_history
from chatbot.conversations.services import bot_reply_store, conversation_reply_failed, replies_pending_cancel
from chatbot.replies.faq_index import faq_index_get
from chatbot.replies.locks import HeldLock, conversation_reply_lock
from chatbot.replies.responders import responder_for
from chatbot.sites.models import Site
from chatbot.usage.selectors import site_quota
from chatbot.usage.services import usage_bot_answer_count, usage_quota_refusal_count
from intents.texts import text
from intents.types import Answer, Turn

logger = logging.getLogger(__name__)


def quota_exceeded_answer(language: str) -> Answer:
    """The reply of a site whose organisation used up its plan's monthly answers, in the customer's
    language: honest, and a person is asked in (the widget then offers the contact form if nobody
    comes), never a silent failure."""
    return Answer(
        text=text("quota_exceeded", language),
        intent=None,
        confidence=0.0,
        handoff=True,
        decision="handoff",
        reason="the organisation's monthly answer quota is used up",
        escalate=True,
    )


def reply_generate(*, message_id: int, answered: dict[int, Message] | None = None) -> Message | None:
    """Answer a customer message (and any other of its conversation still waiting, oldest first).

    Returns the message's reply once stored, or None when there is none (yet): another run holds
    the conversation and answers it, or the bot no longer answers the conversation. Every reply the
    run stores goes into `answered` (by customer message id) when it is given."""
    # The site (with what its quota is read through) comes with the message, once for the whole run.
    message = (
        Message.objects.select_related("conversation__site__organisation__plan")
        .filter(pk=message_id, sender=Sender.CUSTOMER)
        .first()
    )
    if message is None:
        logger.warning("reply requested for message %s, which is not a stored customer message", message_id)
        return None
    if not message.reply_pending:
        existing = Message.objects.filter(reply_to=message).first()
        if existing is not None:
            # A redelivered task: the reply is stored; announce it again in case the first run died
            # between commit and publish. Clients drop the duplicate by its seq.
            events.publish_message(existing)
        return existing
    conversation_id = message.conversation_id
    site = message.conversation.site
    # The site's FAQ index is (re)built here, before the conversation's lock is taken: a first
    # build embeds and fits models for seconds, longer than the lock lives without a sign of life.
    faq_index_get(site=site, language=message.language)
    answered = {} if answered is None else answered
    while True:
        with conversation_reply_lock(conversation_id) as held:
            if held is None:
                logger.info(
                    "conversation %s is answered by another run, which answers %s too", conversation_id, message_id
                )
                break
            if not _answer_waiting(conversation_id, site, held, answered):
                break  # a message could not be settled now; the sweeper queues it again later
        # Looked at once more after letting go: a message stored while the lock was being released
        # had its own task turned away by the lock.
        if not _still_waiting(conversation_id):
            break
    return answered.get(message.pk)


def replies_generate(*, message_ids: list[int]) -> int:
    """Answer customer messages stored together, one after another, as `reply_generate` answers
    each. A message whose reply fails is logged and left waiting (the sweeper queues it again);
    the others are still answered. Returns how many replies this run stored or found stored."""
    # A run answers every waiting message of its conversation: the batch's later messages of that
    # conversation are then answered already, and are not looked up (and announced) again.
    answered: dict[int, Message] = {}
    count = 0
    for message_id in message_ids:
        if message_id in answered:
            count += 1
            continue
        try:
            count += reply_generate(message_id=message_id, answered=answered) is not None
        except Exception:
            logger.exception("reply to message %s failed; the sweeper will queue it again", message_id)
    return count


def _waiting_messages(conversation_id: int) -> QuerySet[Message]:
    return Message.objects.filter(conversation_id=conversation_id, sender=Sender.CUSTOMER, reply_pending=True)


def _waiting(conversation_id: int, site: Site) -> Message | None:
    """The conversation's oldest message still waiting for the bot, with its conversation as it is
    now (its status decides whether the bot still answers) and the run's `site`."""
    message = _waiting_messages(conversation_id).select_related("conversation").order_by("seq").first()
    if message is not None:
        message.conversation.site = site  # read once per run with its first message, not once per message
    return message


def _still_waiting(conversation_id: int) -> bool:
    return _waiting_messages(conversation_id).exists()


def _answer_waiting(conversation_id: int, site: Site, held: HeldLock, answered: dict[int, Message]) -> bool:
    """Answer the waiting messages oldest first, into `answered`; False if one could not be settled."""
    while (message := _waiting(conversation_id, site)) is not None:
        if message.conversation.status != ConversationStatus.BOT:
            replies_pending_cancel(message.conversation)
            return True
        Message.objects.filter(pk=message.pk).update(reply_attempts=F("reply_attempts") + 1)
        message.reply_attempts += 1
        if message.reply_attempts > settings.CHATBOT_REPLY_MAX_ATTEMPTS:
            logger.error(
                "message %s of conversation %s: no reply after %d runs; asking a person in",
                message.pk,
                conversation_id,
                message.reply_attempts - 1,
            )
            conversation_reply_failed(conversation_id=conversation_id, message_seq=message.seq)
            return True
        reply = _answer(message, held)
        if reply is not None:
            answered[message.pk] = reply
        elif Message.objects.filter(pk=message.pk, reply_pending=True).exists():
            return False  # not stored, yet still waiting: never loop on it
    return True


def _still_the_bots(conversation_id: int) -> bool:
    status = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True).first()
    return status == ConversationStatus.BOT


def _answer(message: Message, held: HeldLock) -> Message | None:
    """Stream and store the reply to one message; None if a person took over meanwhile."""
    started = time.perf_counter()
    conversation = message.conversation
    queued_ms = (timezone.now() - message.created_at).total_seconds() * 1000
    history = [
        Turn(sender=m.sender, text=m.text, unanswered=m.decision == "handoff", language=m.language)  # type: ignore[arg-type]
        for m in conversation_history(
            conversation_id=conversation.pk, before_seq=message.seq, turns=settings.CHATBOT_HISTORY_TURNS
        )
    ]
    events.publish_typing(conversation_id=conversation.pk, sender="bot")
    over_quota = site_quota(site=conversation.site).exceeded
    delay_s = settings.CHATBOT_STREAM_DELAY_MS / 1000
    check_every = settings.CHATBOT_REPLY_STATUS_CHECK_S
    checked = time.monotonic()
    deadline = checked + settings.CHATBOT_REPLY_TIME_LIMIT_S
    first_token_ms: float | None = None
    final: Answer | None = None
    pieces = (
        iter([quota_exceeded_answer(message.language)])
        if over_quota
        else responder_for(site=conversation.site, language=message.language).answer(history)
    )
    generated = 0
    try:
        for piece in pieces:
            if isinstance(piece, Answer):
                final = piece
                break
            if first_token_ms is None:
                first_token_ms = (time.perf_counter() - started) * 1000
            elif delay_s:
                time.sleep(delay_s)
            held.keep_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the reply took longer than {settings.CHATBOT_REPLY_TIME_LIMIT_S} s")
            if time.monotonic() - checked >= check_every:
                checked = time.monotonic()
                if not _still_the_bots(conversation.pk):
                    logger.info("conversation %s was taken over; stopped streaming the reply", conversation.pk)
                    return None
            events.publish_token(
                conversation_id=conversation.pk, reply_to=message.seq, delta=piece, attempt=message.reply_attempts
            )
            generated += 1
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
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
        logger.info("conversation %s was taken over; reply to message %s dropped", conversation.pk, message.pk)
    # Metered once: a reply that another run stored first comes back with that run's timings.
    elif reply.timings is timings:
        if over_quota:
            usage_quota_refusal_count(site_id=conversation.site_id)
        else:
            usage_bot_answer_count(site_id=conversation.site_id, decision=final.decision, generated_tokens=generated)
    return reply
