"""The conversations' lifecycle signals, turned into webhook events. Each receiver runs after the
change committed, in the request that made it: it stores the deliveries and queues them, and never
raises into the chat (a failure is logged; the change itself is stored)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chatbot.conversations.models import Conversation, Message
from chatbot.conversations.signals import (
    conversation_closed,
    conversation_created,
    conversation_handed_off,
    conversation_rated,
    message_stored,
)
from chatbot.sites.models import Site
from chatbot.webhooks.models import EventType, WebhookEndpoint
from chatbot.webhooks.payloads import conversation_data, message_data
from chatbot.webhooks.services import site_event_types_forget, webhook_event_emit

logger = logging.getLogger(__name__)


def _emit(site_id: int, event_type: str, build: Callable[[], dict[str, Any]], conversation_id: int) -> None:
    try:
        webhook_event_emit(site_id=site_id, event_type=event_type, data=build, conversation_id=conversation_id)
    except Exception:
        logger.exception("could not queue the %s webhooks of site %s", event_type, site_id)


def _site_key(site_id: int) -> str:
    return Site.objects.filter(pk=site_id).values_list("key", flat=True).first() or ""


def _conversation(conversation: Conversation, **extra: Any) -> dict[str, Any]:
    return {"conversation": conversation_data(conversation, site_key=_site_key(conversation.site_id)), **extra}


@receiver(conversation_created, dispatch_uid="webhooks.conversation_created")
def _created(sender: Any, *, conversation: Conversation, **_: Any) -> None:
    _emit(conversation.site_id, EventType.CONVERSATION_CREATED, lambda: _conversation(conversation), conversation.pk)


@receiver(message_stored, dispatch_uid="webhooks.message_stored")
def _message(sender: Any, *, message: Message, **_: Any) -> None:
    # The services store a message with its conversation's instance: no query for its site.
    _emit(
        message.conversation.site_id,
        EventType.MESSAGE_CREATED,
        lambda: {"message": message_data(message)},
        message.conversation_id,
    )


@receiver(conversation_handed_off, dispatch_uid="webhooks.conversation_handed_off")
def _handoff(sender: Any, *, conversation: Conversation, reason: str, **_: Any) -> None:
    _emit(
        conversation.site_id,
        EventType.CONVERSATION_HANDOFF,
        lambda: _conversation(conversation, reason=reason),
        conversation.pk,
    )


@receiver(conversation_closed, dispatch_uid="webhooks.conversation_closed")
def _closed(sender: Any, *, conversation: Conversation, **_: Any) -> None:
    _emit(conversation.site_id, EventType.CONVERSATION_CLOSED, lambda: _conversation(conversation), conversation.pk)


@receiver(conversation_rated, dispatch_uid="webhooks.conversation_rated")
def _rated(sender: Any, *, conversation: Conversation, score: int, **_: Any) -> None:
    _emit(
        conversation.site_id,
        EventType.RATING_CREATED,
        lambda: _conversation(conversation, rating=score),
        conversation.pk,
    )


@receiver(post_save, sender=WebhookEndpoint, dispatch_uid="webhooks.endpoint_saved")
@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="webhooks.endpoint_deleted")
def _endpoints_changed(sender: Any, *, instance: WebhookEndpoint, **_: Any) -> None:
    # Now, and again once committed: a reader between the two could have cached the old rows.
    site_event_types_forget(instance.site_id)
    transaction.on_commit(lambda: site_event_types_forget(instance.site_id))
