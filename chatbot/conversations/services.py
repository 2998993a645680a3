"""State changes of conversations. Each service owns its transaction and, once that commits,
the realtime event that announces it, so no caller can forget to publish."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatbot.conversations import events
from chatbot.conversations.models import ContactRequest, Conversation, ConversationStatus, Message, Sender, Visitor
from chatbot.conversations.selectors import conversation_open_for
from chatbot.conversations.signals import (
    conversation_closed,
    conversation_created,
    conversation_handed_off,
    conversation_rated,
    customer_messages_stored,
    message_stored,
)
from chatbot.conversations.tokens import visitor_token_issue, visitor_token_read
from chatbot.sites.models import Site
from intents.languages import detect_language, normalise_language
from intents.texts import TextKey, text
from intents.types import Answer

# The system messages in English; the customer gets them in their language (`conversation_language`).
HANDOFF_REQUESTED_TEXT = text("handoff_requested")
CONTACT_LEFT_TEXT = text("contact_left")
ESCALATED_TEXT = text("sentiment_escalated")
REPLY_FAILED_TEXT = text("reply_failed")


@dataclass(frozen=True)
class Session:
    visitor: Visitor
    token: str
    token_was_invalid: bool
    conversation: Conversation | None


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool
    conversation_started: bool
    # The socket that sent the message was added to its new conversation's group when the message
    # was stored, before anything could be published to it (chatbot.conversations.ingest).
    origin_joined: bool = False


class UnknownSeq(Exception):
    pass


def session_open(*, site: Site, token: str | None) -> Session:
    """The visitor behind `token` (or a new one), their open conversation, and a fresh token."""
    visitor = None
    token_was_invalid = False
    if token:
        visitor_id = visitor_token_read(token, site_key=site.key)
        if visitor_id is not None:
            visitor = Visitor.objects.filter(public_id=visitor_id, site=site).first()
        token_was_invalid = visitor is None
    if visitor is None:
        visitor = Visitor.objects.create(site=site)
    else:
        visitor.save(update_fields=["last_seen_at"])
    return Session(
        visitor=visitor,
        token=visitor_token_issue(site_key=site.key, visitor_id=visitor.public_id),
        token_was_invalid=token_was_invalid,
        conversation=conversation_open_for(visitor=visitor),
    )


def _conversation_for_update(*, visitor: Visitor, page_url: str, user_agent: str) -> tuple[Conversation, bool]:
    """The visitor's open conversation, locked for this transaction, or a new one."""
    # Locking the visitor row serialises two tabs that start a conversation at the same moment.
    Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
    conversation = conversation_open_for(visitor=visitor)
    if conversation is not None:
        return Conversation.objects.select_for_update().get(pk=conversation.pk), False
    conversation = Conversation.objects.create(
        site_id=visitor.site_id, visitor=visitor, page_url=page_url[:2000], user_agent=user_agent[:500]
    )
    return conversation, True


def conversation_start(*, site: Site, page_url: str = "", user_agent: str = "") -> Conversation:
    """A new visitor of `site` with a conversation and no message yet: how an API client (which
    has no widget token) starts a chat. Its messages then go through `message_receive`."""
    with transaction.atomic():
        visitor = Visitor.objects.create(site=site)
        conversation, _ = _conversation_for_update(visitor=visitor, page_url=page_url, user_agent=user_agent)
        transaction.on_commit(lambda: conversation_started_announce(conversation=conversation, visitor=visitor))
    return conversation


def conversation_started_announce(*, conversation: Conversation, visitor: Visitor, origin: str = "") -> None:
    """Tell the consoles and the listeners of `conversation_created` of a new conversation (once
    its transaction committed); `origin` is the socket that started it, if one did."""
    events.publish_conversation_started(conversation=conversation, visitor_public_id=visitor.public_id, origin=origin)
    conversation_created.send(sender=Conversation, conversation=conversation)


def message_announce(message: Message, *, site_id: int | None = None, origin: str = "") -> None:
    """Publish a newly stored message to its sockets (but `origin`, the socket that stored it) and
    tell the listeners of `message_stored` (once its transaction committed; a message published
    again is not announced again)."""
    events.publish_message(message, site_id=site_id, origin=origin)
    message_stored.send(sender=Message, message=message)


def customer_messages_announce(messages: list[Message], *, origins: list[str] | None = None) -> None:
    """Publish newly stored customer messages and tell the listeners of `customer_messages_stored`
    (the reply engine queues the bot's reply to each that waits for one, sentiment queues their
    scoring). Each `message.conversation` is the instance it was stored with: no query for sites.
    `origins`: for each message, the socket that stored it (it is not sent the message back)."""
    for message, origin in zip(messages, origins or [""] * len(messages), strict=True):
        message_announce(message, site_id=message.conversation.site_id, origin=origin)
    customer_messages_stored.send(sender=Message, messages=messages)


def conversation_closed_announce(conversation: Conversation) -> None:
    """Tell the listeners of `conversation_closed` (once the close committed)."""
    conversation_closed.send(sender=Conversation, conversation=conversation)


def _next_seq(conversation: Conversation) -> int:
    """Hand out the next sequence number; the caller holds the conversation's row lock."""
    conversation.last_seq += 1
    conversation.save(update_fields=["last_seq", "updated_at"])
    return conversation.last_seq


def message_receive(
    *, visitor: Visitor, client_id: str, text: str, page_url: str = "", user_agent: str = ""
) -> Received:
    """Store a customer message once per `client_id`, publish it, and once committed tell the
    listeners of `customer_messages_stored` (the reply engine queues the bot's reply when the
    message waits for one, sentiment queues its scoring)."""
    with transaction.atomic():
        conversation, started = _conversation_for_update(visitor=visitor, page_url=page_url, user_agent=user_agent)
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is not None:
            return Received(existing, created=False, conversation_started=False)
        answer_by_bot = conversation.status == ConversationStatus.BOT
        # A message without letters of its own ("ok", "2") is in the language the conversation is in.
        language = detect_language(text, default=conversation_language(conversation))
        if conversation.language != language:
            conversation.language = language
            conversation.save(update_fields=["language"])
        message = Message.objects.create(
            conversation=conversation,
            seq=_next_seq(conversation),
            sender=Sender.CUSTOMER,
            text=text,
            language=language,
            client_id=client_id,
            # Pending until its reply is stored: if the queued task gets lost, the sweeper sees it.
            reply_pending=answer_by_bot,
            reply_dispatched_at=timezone.now() if answer_by_bot else None,
        )

        def after_commit() -> None:
            if started:
                conversation_started_announce(conversation=conversation, visitor=visitor)
            customer_messages_announce([message])

        transaction.on_commit(after_commit)
    return Received(message, created=True, conversation_started=started)


def bot_reply_store(*, customer_message: Message, answer: Answer, timings: dict[str, float]) -> Message | None:
    """Store the bot's answer to a customer message, at most once.

    Returns the stored reply (the earlier one if the message was already answered), or None when
    the conversation is no longer the bot's to answer (a person took over meanwhile).
    """
    try:
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().get(pk=customer_message.conversation_id)
            existing = Message.objects.filter(reply_to=customer_message).first()
            if existing is not None:
                return existing
            if conversation.status != ConversationStatus.BOT:
                return None
            Message.objects.filter(pk=customer_message.pk).update(reply_pending=False)
            if answer.escalate:
                _wait_for_human(conversation)
            reply = Message.objects.create(
                conversation=conversation,
                seq=_next_seq(conversation),
                sender=Sender.BOT,
                text=answer.text,
                language=customer_message.language,
                reply_to=customer_message,
                intent=answer.intent or "",
                confidence=answer.confidence,
                sources=[{"id": s.id, "question": s.question, "score": s.score} for s in answer.sources],
                handoff_offered=answer.handoff,
                decision=answer.decision,
                decision_reason=answer.reason[:300],
                options=[{"id": s.id, "question": s.question, "score": s.score} for s in answer.options],
                model_version=answer.model_version,
                timings=timings,
            )

            def after_commit() -> None:
                message_announce(reply, site_id=conversation.site_id)
                if answer.escalate:
                    events.publish_status(conversation)
                    conversation_handed_off.send(sender=Conversation, conversation=conversation, reason="bot")

            transaction.on_commit(after_commit)
            return reply
    except IntegrityError:
        # A concurrent run of the same task stored the reply first.
        return Message.objects.get(reply_to=customer_message)


def conversation_handoff_request(
    *, visitor: Visitor, page_url: str = "", user_agent: str = "", language: str = ""
) -> Conversation:
    """The customer asks for a person: the bot stops answering and the team is told. `language`:
    the widget's, for a customer who has not written yet (else the language they write in)."""
    with transaction.atomic():
        conversation, started = _conversation_for_update(visitor=visitor, page_url=page_url, user_agent=user_agent)
        if conversation.status != ConversationStatus.BOT:
            return conversation
        if language and not conversation.language:
            conversation.language = normalise_language(language)
            conversation.save(update_fields=["language"])
        if started:
            transaction.on_commit(lambda: conversation_started_announce(conversation=conversation, visitor=visitor))
        _hand_over(conversation, "handoff_requested")
    return conversation


def conversation_escalate(*, conversation: Conversation, reason: str) -> bool:
    """Flag a conversation whose customer is upset (once), and when its site asks for it and the bot
    is still answering, hand it to a person before the customer asks. The caller holds the
    conversation's row lock inside a transaction. Returns whether it was flagged now."""
    if conversation.escalated_at is not None:
        return False
    conversation.escalated_at = timezone.now()
    conversation.escalation_reason = reason[:200]
    conversation.save(update_fields=["escalated_at", "escalation_reason"])
    if conversation.status == ConversationStatus.BOT and conversation.site.escalate_on_negative_sentiment:
        _hand_over(conversation, "sentiment_escalated")
    transaction.on_commit(
        lambda: events.publish_inbox(site_id=conversation.site_id, conversation_id=conversation.pk, kind="escalated")
    )
    return True


def _wait_for_human(conversation: Conversation) -> None:
    """The bot stops answering and the conversation waits for a person (the caller holds its lock)."""
    now = timezone.now()
    conversation.status = ConversationStatus.WAITING_HUMAN
    conversation.waiting_since = now
    conversation.handed_off_at = conversation.handed_off_at or now
    conversation.save(update_fields=["status", "waiting_since", "handed_off_at", "updated_at"])
    replies_pending_cancel(conversation)


def conversation_language(conversation: Conversation) -> str:
    """The language to write to the customer in: that of their latest message, else the site's."""
    return conversation.language or normalise_language(conversation.site.language)


def _system_message(conversation: Conversation, key: TextKey, **fields: str) -> Message:
    """A system message (fixed text `key`) in the customer's language; the caller holds the lock."""
    language = conversation_language(conversation)
    return Message.objects.create(
        conversation=conversation,
        seq=_next_seq(conversation),
        sender=Sender.SYSTEM,
        text=text(key, language).format(**fields),
        language=language,
    )


def _hand_over(conversation: Conversation, key: TextKey) -> Message:
    """The bot stops answering, a system message tells the customer why, and once the transaction
    commits the status and the message are announced (the caller holds the conversation's lock)."""
    _wait_for_human(conversation)
    notice = _system_message(conversation, key)

    def after_commit() -> None:
        events.publish_status(conversation)
        message_announce(notice)
        conversation_handed_off.send(
            sender=Conversation, conversation=conversation, reason=_HANDOFF_REASONS.get(key, key)
        )

    transaction.on_commit(after_commit)
    return notice


# Why a conversation was handed to a person, by the system message that tells the customer.
_HANDOFF_REASONS: dict[str, str] = {
    "handoff_requested": "customer_request",
    "sentiment_escalated": "sentiment",
    "reply_failed": "reply_failed",
}


def replies_pending_cancel(conversation: Conversation) -> int:
    """The bot no longer answers the conversation (a person was asked in, took over or closed it):
    what the customer asked so far is for that person, not for the bot once it answers again.
    The caller holds the conversation's lock. Returns how many messages stopped waiting."""
    return Message.objects.filter(conversation=conversation, reply_pending=True).update(reply_pending=False)


def conversation_reply_failed(*, conversation_id: int, message_seq: int) -> bool:
    """The bot failed to answer a message CHATBOT_REPLY_MAX_ATTEMPTS times: hand the conversation
    to a person rather than leave the customer waiting. Returns whether it was handed over now."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().select_related("site").get(pk=conversation_id)
        if conversation.status != ConversationStatus.BOT:
            replies_pending_cancel(conversation)
            return False
        conversation.escalated_at = conversation.escalated_at or timezone.now()
        conversation.escalation_reason = conversation.escalation_reason or f"the bot failed to answer #{message_seq}"
        conversation.save(update_fields=["escalated_at", "escalation_reason"])
        _hand_over(conversation, "reply_failed")
    return True


def message_feedback_set(*, conversation_id: int, seq: int, value: str) -> Message:
    updated = Message.objects.filter(conversation_id=conversation_id, seq=seq, sender=Sender.BOT).update(feedback=value)
    if not updated:
        raise UnknownSeq(f"Message {seq} is not a bot answer in this conversation.")
    message = Message.objects.select_related("conversation").get(conversation_id=conversation_id, seq=seq)
    site_id = message.conversation.site_id
    transaction.on_commit(
        lambda: events.publish_inbox(site_id=site_id, conversation_id=conversation_id, kind="feedback", seq=seq)
    )
    return message


class NoConversation(Exception):
    pass


def contact_request_leave(*, visitor: Visitor, email: str, text: str) -> ContactRequest:
    """Nobody took the chat in time: the customer leaves an e-mail address and a message. Both are
    stored on the conversation, a system message confirms it, and the consoles are told."""
    with transaction.atomic():
        conversation = conversation_open_for(visitor=visitor)
        if conversation is None:
            raise NoConversation("There is no conversation yet.")
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        contact = ContactRequest.objects.create(conversation=conversation, email=email, text=text)
        notice = _system_message(conversation, "contact_left", email=email)

        def after_commit() -> None:
            message_announce(notice)
            events.publish_inbox(site_id=conversation.site_id, conversation_id=conversation.pk, kind="contact")

        transaction.on_commit(after_commit)
    return contact


def conversation_rate(*, visitor: Visitor, conversation_id: int, score: int) -> Conversation:
    """The customer's 1-5 satisfaction rating of a conversation of theirs (asked when it closes)."""
    updated = Conversation.objects.filter(pk=conversation_id, visitor=visitor).update(csat=score)
    if not updated:
        raise NoConversation("That conversation is not yours to rate.")
    conversation = Conversation.objects.get(pk=conversation_id)

    def after_commit() -> None:
        events.publish_inbox(site_id=conversation.site_id, conversation_id=conversation.pk, kind="rating")
        conversation_rated.send(sender=Conversation, conversation=conversation, score=score)

    transaction.on_commit(after_commit)
    return conversation
