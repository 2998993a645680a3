"""What operators do to conversations. Each service owns its transaction, locks the conversation
row (so a claim, a reply and the bot's own reply never interleave), and publishes its events once
the transaction commits: to the widget (the conversation's group) and to the consoles (the
site's inbox group)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatbot.console.models import Note, Operator, Role
from chatbot.conversations import events
from chatbot.conversations.models import ContactRequest, Conversation, ConversationStatus, Message, Sender
from chatbot.conversations.services import (
    conversation_closed_announce,
    conversation_language,
    message_announce,
    replies_pending_cancel,
)
from chatbot.sites.models import Site
from intents.texts import TextKey, text


class ConsoleActionError(Exception):
    """The action is not possible in the conversation's current state; the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Claim:
    conversation: Conversation
    won: bool
    holder: str  # the name of the operator who holds the conversation now ("" when nobody does)


def _locked(conversation_id: int) -> Conversation:
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise ConsoleActionError("not_found", "No such conversation.")
    return conversation


def _system_message(conversation: Conversation, key: TextKey, operator: Operator) -> Message:
    """The customer is told what the operator did, in the customer's language."""
    conversation.last_seq += 1
    language = conversation_language(conversation)
    return Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=Sender.SYSTEM,
        text=text(key, language).format(name=operator.name),
        language=language,
    )


def _announce(conversation: Conversation, *messages: Message, kind: str = "status") -> None:
    def after_commit() -> None:
        events.publish_status(conversation)
        for message in messages:
            message_announce(message)
        events.publish_inbox(site_id=conversation.site_id, conversation_id=conversation.pk, kind=kind)
        if conversation.status == ConversationStatus.CLOSED:
            conversation_closed_announce(conversation)

    transaction.on_commit(after_commit)


def conversation_claim(*, conversation_id: int, operator: Operator) -> Claim:
    """Take a conversation over: the bot stops answering and this operator answers. Of two
    operators claiming at once exactly one wins; the other learns who holds it."""
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.assignee_id == operator.user_id and conversation.status == ConversationStatus.HUMAN:
            return Claim(conversation, won=True, holder=operator.name)
        if conversation.assignee_id is not None:
            holder = Operator.objects.filter(user_id=conversation.assignee_id).first()
            return Claim(conversation, won=False, holder=holder.name if holder else "another operator")
        if conversation.status == ConversationStatus.CLOSED:
            raise ConsoleActionError("closed", "The conversation is closed.")
        conversation.status = ConversationStatus.HUMAN
        conversation.assignee = operator.user
        conversation.waiting_since = None
        replies_pending_cancel(conversation)
        joined = _system_message(conversation, "operator_joined", operator)
        conversation.save(update_fields=["status", "assignee", "waiting_since", "last_seq", "updated_at"])
        _announce(conversation, joined, kind="assigned")
    return Claim(conversation, won=True, holder=operator.name)


def _assigned_to(conversation: Conversation, operator: Operator) -> None:
    if conversation.status == ConversationStatus.CLOSED:
        raise ConsoleActionError("closed", "The conversation is closed.")
    if conversation.assignee_id != operator.user_id:
        raise ConsoleActionError("not_assigned", "Take the conversation over before you answer in it.")


def operator_message_send(
    *, conversation_id: int, operator: Operator, text: str, client_id: str | None = None
) -> Message:
    """An operator's reply to the customer. Sent again with the same `client_id`, it is stored once."""
    text = text.strip()
    if not text:
        raise ConsoleActionError("empty", "Write a message first.")
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if client_id:
            existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
            if existing is not None:
                return existing
        _assigned_to(conversation, operator)
        now = timezone.now()
        conversation.last_seq += 1
        conversation.first_human_reply_at = conversation.first_human_reply_at or now
        conversation.save(update_fields=["last_seq", "first_human_reply_at", "updated_at"])
        message = Message.objects.create(
            conversation=conversation,
            seq=conversation.last_seq,
            sender=Sender.OPERATOR,
            text=text,
            client_id=client_id or None,
            author=operator.user,
            author_name=operator.name,
        )
        transaction.on_commit(lambda: message_announce(message, site_id=conversation.site_id))
    return message


def conversation_release(*, conversation_id: int, operator: Operator) -> Conversation:
    """Hand the conversation back to the bot."""
    with transaction.atomic():
        conversation = _locked(conversation_id)
        _assigned_to(conversation, operator)
        conversation.status = ConversationStatus.BOT
        conversation.assignee = None
        notice = _system_message(conversation, "operator_released", operator)
        conversation.save(update_fields=["status", "assignee", "last_seq", "updated_at"])
        _announce(conversation, notice)
    return conversation


def conversation_close(*, conversation_id: int, operator: Operator) -> Conversation:
    """Close the conversation; the customer's next message starts a new one."""
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.status == ConversationStatus.CLOSED:
            return conversation
        if conversation.assignee_id not in (None, operator.user_id) and not operator.is_admin:
            raise ConsoleActionError("not_assigned", "Another operator is answering this conversation.")
        conversation.status = ConversationStatus.CLOSED
        conversation.closed_at = timezone.now()
        conversation.waiting_since = None
        replies_pending_cancel(conversation)
        notice = _system_message(conversation, "operator_closed", operator)
        conversation.save(update_fields=["status", "closed_at", "waiting_since", "last_seq", "updated_at"])
        _announce(conversation, notice)
    return conversation


def note_add(*, conversation_id: int, operator: Operator, text: str) -> Note:
    """An internal note: visible to operators, never sent to the customer."""
    text = text.strip()
    if not text:
        raise ConsoleActionError("empty", "Write a note first.")
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise ConsoleActionError("not_found", "No such conversation.")
    note = Note.objects.create(conversation=conversation, author=operator.user, author_name=operator.name, text=text)
    transaction.on_commit(
        lambda: events.group_send(
            events.console_conversation_group(conversation.pk), {"type": "console.note", "note": note.pk}
        )
    )
    return note


def operator_heartbeat(*, operator: Operator, seconds: int) -> None:
    Operator.objects.filter(pk=operator.pk).update(online_until=timezone.now() + timedelta(seconds=seconds))


def operator_offline(*, operator: Operator) -> None:
    Operator.objects.filter(pk=operator.pk).update(online_until=None)


def operator_language_set(*, operator: Operator, language: str) -> Operator:
    """The console's language for the operator (a code of settings.LANGUAGES; "": the browser's)."""
    if language and language not in dict(settings.LANGUAGES):
        raise ConsoleActionError("bad_language", f"Unknown language {language!r}.")
    operator.language = language
    operator.save(update_fields=["language"])
    return operator


def contact_request_handled(*, contact_id: int, operator: Operator) -> ContactRequest:
    contact = ContactRequest.objects.select_related("conversation").get(pk=contact_id)
    if contact.handled_at is None:
        contact.handled_at = timezone.now()
        contact.save(update_fields=["handled_at"])
        conversation = contact.conversation
        transaction.on_commit(
            lambda: events.publish_inbox(site_id=conversation.site_id, conversation_id=conversation.pk, kind="contact")
        )
    return contact


def operator_update(*, operator: Operator, by: Operator, role: str, site_ids: Iterable[int]) -> Operator:
    """An organisation admin (`by`) sets an operator's role and sites, all within their own
    organisation. An admin cannot change their own role (the organisation would be left without)."""
    if not by.is_admin or operator.organisation_id != by.organisation_id:
        raise ConsoleActionError("not_found", "No such operator.")
    if role not in Role.values:
        raise ConsoleActionError("bad_role", f"Unknown role {role!r}.")
    if operator.pk == by.pk and role != operator.role:
        raise ConsoleActionError("own_role", "Ask another admin to change your own role.")
    wanted = set(site_ids)
    sites = list(Site.objects.filter(pk__in=wanted, organisation=by.organisation))
    if len(sites) != len(wanted):
        raise ConsoleActionError("not_found", "No such site.")
    with transaction.atomic():
        operator.role = role
        operator.save(update_fields=["role"])
        operator.sites.set(sites)
    return operator
