"""State changes for exports: API tokens and erasing a visitor's data (the per-token rate limit is
chatbot.ratelimit)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from chatbot.console.models import Note
from chatbot.conversations.models import ContactRequest, Conversation, Message, Visitor
from chatbot.exports.models import ApiToken

logger = logging.getLogger(__name__)

# Tokens start with this, so secret scanners and people recognise them.
TOKEN_PREFIX = "cbd_"

# Sent inside the erasure's transaction, before anything is deleted, with `visitor`,
# `conversation_ids` and `message_ids`. Whatever keeps a copy derived from a visitor's messages
# outside these tables (a training-data set, a cache of embeddings) deletes it in its receiver;
# a receiver that fails rolls the whole erasure back, so it never half happens.
visitor_erasing = Signal()


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token acting as `user`; returns it and its secret value, which is not stored and
    cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name.")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name[:100], user=user, key_hash=_key_hash(key), prefix=key[:8])
    logger.info("API token %s (%s) created for user #%s", token.pk, token.prefix, user.pk)
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        logger.info("API token %s (%s) revoked", token.pk, token.prefix)
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The active token with this secret value, its use recorded; None for an unknown, revoked or
    malformed one, or one whose user account is disabled."""
    if not key.startswith(TOKEN_PREFIX) or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_key_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is not None:
        token.last_used_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=token.last_used_at)
    return token


@dataclass(frozen=True)
class VisitorErasure:
    site: str
    conversations: int
    messages: int
    contact_requests: int
    notes: int


def visitor_data_erase(*, visitor: Visitor, by: Any = None) -> VisitorErasure:
    """Delete everything stored about one visitor: the visitor, their conversations with every
    message, contact request and note, the admin's change log about those records (its entries
    name them, e.g. a contact request's e-mail address), and, through `visitor_erasing`, whatever
    other parts of the product derived from them. Logged without personal data."""
    with transaction.atomic():
        # The lock a customer's new message takes too: no conversation starts half-way through.
        Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
        conversation_ids = list(Conversation.objects.filter(visitor=visitor).values_list("pk", flat=True))
        message_ids = list(Message.objects.filter(conversation_id__in=conversation_ids).values_list("pk", flat=True))
        contact_ids = list(
            ContactRequest.objects.filter(conversation_id__in=conversation_ids).values_list("pk", flat=True)
        )
        note_ids = list(Note.objects.filter(conversation_id__in=conversation_ids).values_list("pk", flat=True))
        visitor_erasing.send(
            sender=Visitor, visitor=visitor, conversation_ids=conversation_ids, message_ids=message_ids
        )
        for model, ids in (
            (Visitor, [visitor.pk]),
            (Conversation, conversation_ids),
            (Message, message_ids),
            (ContactRequest, contact_ids),
            (Note, note_ids),
        ):
            if ids:
                LogEntry.objects.filter(
                    content_type=ContentType.objects.get_for_model(model), object_id__in=[str(i) for i in ids]
                ).delete()
        site = visitor.site.key
        visitor.delete()  # cascades to conversations, and from them to messages, contact requests, notes
    erasure = VisitorErasure(
        site=site,
        conversations=len(conversation_ids),
        messages=len(message_ids),
        contact_requests=len(contact_ids),
        notes=len(note_ids),
    )
    logger.info(
        "visitor data erased on request: site=%s conversations=%d messages=%d contact_requests=%d notes=%d by=%s",
        erasure.site,
        erasure.conversations,
        erasure.messages,
        erasure.contact_requests,
        erasure.notes,
        f"user #{by.pk}" if by is not None else "command line",
    )
    return erasure
