"""Scoring customer messages and conversations for sentiment and complaints, off the reply path.

Each message is scored in its language: a Chinese one (`Message.language`) by
`intents.sentiment.chinese.ChineseSentimentScorer`, any other by the active scorer (the
registry's trained model, else VADER), which reads English.

One function owns the change and its realtime event: `messages_sentiment_score` stores the
messages' scores and complaints (category and severity), brings their conversations' current
sentiment and worst complaint up to date and tells the consoles watching the site, so the badges
follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from chatbot.conversations import events
from chatbot.conversations.models import Conversation, Message, Sender
from chatbot.conversations.services import conversation_escalate
from chatbot.replies.loading import ModelCache, complaint_classifier_get, sentiment_scorer_get
from chatbot.sentiment.selectors import messages_unscored
from chatbot.sites.models import Site
from intents.complaints.classifier import NOT_A_COMPLAINT, Complaint, ScoredText
from intents.complaints.cues import is_complaint
from intents.complaints.severity import worst_complaint
from intents.languages import CHINESE, detect_language
from intents.sentiment.chinese import ChineseSentimentScorer
from intents.sentiment.conversations import conversation_sentiment, escalation_reason
from intents.sentiment.scorers import SentimentScore, SentimentScorer, scores_by_language

chinese_scorer_cache: ModelCache[SentimentScorer] = ModelCache()


def chinese_scorer_get() -> SentimentScorer:
    """This process's Chinese sentiment scorer, loaded when the first Chinese message is scored."""
    return chinese_scorer_cache.get(CHINESE, ChineseSentimentScorer)


@dataclass(frozen=True)
class _Scored:
    message: Message
    sentiment: SentimentScore
    complaint: Complaint


def message_sentiment_score(message_id: int) -> Message | None:
    """Score one customer message and its conversation; None if it is not a customer message
    (or is gone). Scoring again gives the same result, so a retried task does no harm."""
    messages_sentiment_score(message_ids=[message_id])
    return Message.objects.filter(pk=message_id, sender=Sender.CUSTOMER).first()


def messages_sentiment_score(*, message_ids: Sequence[int]) -> int:
    """Score customer messages in one batch with the active scorer, and classify those that are
    complaints; returns how many."""
    messages = list(
        Message.objects.filter(pk__in=message_ids, sender=Sender.CUSTOMER)
        .select_related("conversation")
        .only("pk", "seq", "text", "language", "conversation_id", "conversation__site_id")
    )
    if not messages:
        return 0
    # The models run outside the transaction: no row stays locked while they think. A message
    # stored before languages were recorded has none: its language is read from its text.
    results = scores_by_language(
        [m.text for m in messages],
        [m.language or detect_language(m.text) for m in messages],
        {CHINESE: chinese_scorer_get},
        sentiment_scorer_get,
    )
    complaints = _complaints_classify(
        [ScoredText(m.text, r.score, r.label) for m, r in zip(messages, results, strict=True)]
    )
    by_conversation: dict[int, list[_Scored]] = {}
    for message, result, complaint in zip(messages, results, complaints, strict=True):
        by_conversation.setdefault(message.conversation_id, []).append(_Scored(message, result, complaint))
    for conversation_id in sorted(by_conversation):  # one lock order, so two batches cannot deadlock
        _conversation_store(conversation_id, by_conversation[conversation_id])
    return len(messages)


def _complaints_classify(messages: Sequence[ScoredText]) -> list[Complaint]:
    # Most batches hold no complaint: they need not wait for the embedding model to load.
    if not any(is_complaint(m.text, m.sentiment_label) for m in messages):
        return [NOT_A_COMPLAINT] * len(messages)
    return complaint_classifier_get().classify(messages)


@transaction.atomic
def _conversation_store(conversation_id: int, scored: Sequence[_Scored]) -> None:
    # The conversation's row lock orders concurrent scorers of its messages: each recomputes from
    # every message committed before it, so the last one to commit leaves the right figure.
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        return
    for item in scored:
        Message.objects.filter(pk=item.message.pk).update(
            sentiment=item.sentiment.score,
            sentiment_label=item.sentiment.label,
            complaint_category=item.complaint.category,
            complaint_severity=item.complaint.severity,
        )
    conversation_sentiment_update(conversation=conversation)
    # Consoles showing the conversation update these messages' badges.
    site_id, seqs = conversation.site_id, [item.message.seq for item in scored]

    def after_commit() -> None:
        for seq in seqs:
            events.publish_inbox(site_id=site_id, conversation_id=conversation_id, kind="sentiment", seq=seq)

    transaction.on_commit(after_commit)


def conversation_sentiment_update(*, conversation: Conversation) -> None:
    """Recompute the conversation's current sentiment and its worst complaint from its scored
    customer messages and tell the site's consoles. `updated_at` is left alone: a new score is
    not new activity."""
    rows = list(
        Message.objects.filter(conversation=conversation, sender=Sender.CUSTOMER, sentiment__isnull=False)
        .order_by("seq")
        .values_list("sentiment", "sentiment_label", "complaint_category", "complaint_severity")
    )
    scored = [(s, label) for s, label, _, _ in rows if s is not None]
    current = conversation_sentiment(scored, settings.CHATBOT_SENTIMENT_DECAY)
    score, label = (current.score, current.label) if current is not None else (None, "")
    category, severity = worst_complaint([(c, sev) for _, _, c, sev in rows]) or ("", "")
    Conversation.objects.filter(pk=conversation.pk).update(
        sentiment=score, sentiment_label=label, complaint_category=category, complaint_severity=severity
    )
    conversation.sentiment, conversation.sentiment_label = score, label
    conversation.complaint_category, conversation.complaint_severity = category, severity
    reason = escalation_reason(scored, strongly_negative=settings.CHATBOT_ESCALATION_SCORE)
    if reason is None and severity == "critical":
        # A legal threat or a safety issue is urgent however calmly it is worded.
        reason = f"critical complaint ({category})"
    if reason is not None:
        conversation_escalate(conversation=conversation, reason=reason)
    site_id, conversation_id = conversation.site_id, conversation.pk
    transaction.on_commit(
        lambda: events.publish_inbox(site_id=site_id, conversation_id=conversation_id, kind="sentiment")
    )


def sentiment_backfill(
    *, site: Site | None = None, batch_size: int = 64, progress: Callable[[int, int], None] | None = None
) -> int:
    """Score every customer message not scored yet (of one site, or all); returns how many."""
    ids = list(messages_unscored(site=site).values_list("pk", flat=True))
    done = 0
    for start in range(0, len(ids), batch_size):
        done += messages_sentiment_score(message_ids=ids[start : start + batch_size])
        if progress is not None:
            progress(min(start + batch_size, len(ids)), len(ids))
    return done
