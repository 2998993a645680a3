"""The customer questions the bot could not answer well, with what the team answered instead,
grouped by meaning: the console's "unanswered questions" and the analytics dashboard read them.

A question counts as unanswered when the bot's reply to it
- handed the conversation to a person or asked which of two entries was meant (decisions
  `handoff` and `clarify`), except when the customer asked for a person outright: that is a
  request, not a question the FAQ could answer;
- answered from the FAQ with a best match less than `CHATBOT_UNANSWERED_MARGIN` (0.05) above
  the site's answer threshold: a near miss, likely a guess;
or when the bot never replied because the conversation was already waiting for or with a person
(sent at or after its first handoff, with no bot reply).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from chatbot.conversations.models import Decision, Message, Sender
from chatbot.replies.loading import embedder_get
from intents.clustering import DEFAULT_DISTANCE_THRESHOLD, cluster_texts
from intents.embeddings import Embedder

# The intent the answer gate gives a reply to "let me talk to a person" (intents.retrieval).
HUMAN_REQUEST_INTENT = "human_request"
# Intents of replies that come from the FAQ (blank: stored before intents were recorded).
_FAQ_INTENTS = ("faq", "")


@dataclass(frozen=True)
class UnansweredQuestion:
    message_id: int
    conversation_id: int
    site_id: int
    text: str
    created_at: datetime
    reason: str  # "handoff", "clarify", "near_miss" or "with_human"
    confidence: float | None  # the best FAQ match of the bot's reply, if there was one
    operator_replies: tuple[str, ...]  # operator messages after it, up to the customer's next message


@dataclass(frozen=True)
class UnansweredCluster:
    """Unanswered questions about one thing. `questions` and `message_ids` are aligned, the most
    typical question first; `label` is that question. `operator_replies` are the distinct replies
    the team gave to them, the most frequent first."""

    label: str
    size: int
    questions: list[str]
    operator_replies: list[str]
    message_ids: list[int]


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[from, until) for a period: dates are whole days, both included, in the current time zone;
    datetimes are taken as they are (the end excluded)."""
    lower = start if isinstance(start, datetime) else datetime.combine(start, time.min)
    upper = end if isinstance(end, datetime) else datetime.combine(end + timedelta(days=1), time.min)
    lower, upper = (moment if timezone.is_aware(moment) else timezone.make_aware(moment) for moment in (lower, upper))
    if lower >= upper:
        raise ValueError(f"The period starts ({start}) after it ends ({end}).")
    return lower, upper


def unanswered_questions(
    *, site_ids: Collection[int], start: date, end: date, limit: int | None = None
) -> list[UnansweredQuestion]:
    """The unanswered customer questions of the sites in the period, oldest first, with the
    operators' replies to each. With `limit`, only the most recent `limit` of them."""
    lower, upper = period_bounds(start, end)
    handed_off = Q(r_decision__in=(Decision.HANDOFF, Decision.CLARIFY)) & ~Q(r_intent=HUMAN_REQUEST_INTENT)
    near_miss = Q(
        r_decision=Decision.ANSWER,
        r_intent__in=_FAQ_INTENTS,
        r_confidence__lt=F("conversation__site__answer_threshold") + settings.CHATBOT_UNANSWERED_MARGIN,
    )
    with_human = Q(
        r_id__isnull=True,
        conversation__handed_off_at__isnull=False,
        created_at__gte=F("conversation__handed_off_at"),
    )
    rows = (
        Message.objects.filter(
            sender=Sender.CUSTOMER,
            conversation__site_id__in=list(site_ids),
            created_at__gte=lower,
            created_at__lt=upper,
        )
        .annotate(
            r_id=F("reply__id"),
            r_decision=F("reply__decision"),
            r_intent=F("reply__intent"),
            r_confidence=F("reply__confidence"),
            site_id=F("conversation__site_id"),
        )
        .filter(handed_off | near_miss | with_human)
        .order_by("-created_at", "-id")
        .values_list(
            "id", "conversation_id", "site_id", "seq", "text", "created_at", "r_id", "r_decision", "r_confidence"
        )
    )
    selected = list(rows[:limit] if limit is not None else rows)
    selected.reverse()
    replies = _operator_replies({row[0] for row in selected}, {row[1] for row in selected})
    questions = []
    for message_id, conversation_id, site_id, _seq, text, created_at, reply_id, decision, confidence in selected:
        if reply_id is None:
            reason = "with_human"
        elif decision in (Decision.HANDOFF, Decision.CLARIFY):
            reason = str(decision)
        else:
            reason = "near_miss"
        questions.append(
            UnansweredQuestion(
                message_id=message_id,
                conversation_id=conversation_id,
                site_id=site_id,
                text=text,
                created_at=created_at,
                reason=reason,
                confidence=confidence,
                operator_replies=tuple(replies.get(message_id, ())),
            )
        )
    return questions


def _operator_replies(message_ids: set[int], conversation_ids: set[int]) -> dict[int, list[str]]:
    """For each customer message, the operator messages that follow it until the customer's next."""
    replies: dict[int, list[str]] = {}
    current: int | None = None
    rows = (
        Message.objects.filter(conversation_id__in=conversation_ids, sender__in=(Sender.CUSTOMER, Sender.OPERATOR))
        .order_by("conversation_id", "seq")
        .values_list("id", "conversation_id", "sender", "text")
    )
    conversation: int | None = None
    for message_id, conversation_id, sender, text in rows.iterator(chunk_size=2000):
        if conversation_id != conversation:
            conversation, current = conversation_id, None
        if sender == Sender.CUSTOMER:
            current = message_id if message_id in message_ids else None
        elif current is not None:
            replies.setdefault(current, []).append(text)
    return replies


def unanswered_clusters(
    *,
    site_ids: Collection[int],
    start: date,
    end: date,
    limit: int = 10,
    min_cluster_size: int = 1,
    embedder: Embedder | None = None,
) -> list[UnansweredCluster]:
    """The period's unanswered questions grouped by meaning, the largest groups first (at most
    `limit`). Clusters the most recent `CHATBOT_UNANSWERED_MAX_QUESTIONS` questions."""
    questions = unanswered_questions(
        site_ids=site_ids, start=start, end=end, limit=settings.CHATBOT_UNANSWERED_MAX_QUESTIONS
    )
    return unanswered_questions_cluster(questions, limit=limit, min_cluster_size=min_cluster_size, embedder=embedder)


def unanswered_questions_cluster(
    questions: Sequence[UnansweredQuestion],
    *,
    limit: int = 10,
    min_cluster_size: int = 1,
    embedder: Embedder | None = None,
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
) -> list[UnansweredCluster]:
    """Group questions by meaning (see `intents.clustering`), the largest groups first."""
    if not questions or limit <= 0:
        return []
    if embedder is None:
        embedder = embedder_get()
    texts = [" ".join(q.text.split()) for q in questions]
    # Customers' words are embedded here, on the fly, and never stored: erasing a visitor's
    # messages then leaves no derived copy of them (embeddings can be inverted to text).
    # Each distinct text is embedded once; repeats still count towards their cluster's size.
    distinct = list(dict.fromkeys(texts))
    vectors = embedder.encode(distinct)
    row_of = {text: row for row, text in enumerate(distinct)}
    clusters = cluster_texts(
        texts,
        vectors[[row_of[text] for text in texts]],
        distance_threshold=distance_threshold,
        min_cluster_size=min_cluster_size,
    )
    result = []
    for cluster in clusters[:limit]:
        members = [questions[i] for i in cluster.members]
        counts = Counter(" ".join(reply.split()) for q in members for reply in q.operator_replies)
        # Counter keeps first-seen order among equal counts, so the sort is deterministic.
        replies = [reply for reply, _ in sorted(counts.items(), key=lambda item: -item[1])]
        result.append(
            UnansweredCluster(
                label=texts[cluster.members[0]],
                size=cluster.size,
                questions=[texts[i] for i in cluster.members],
                operator_replies=replies,
                message_ids=[q.message_id for q in members],
            )
        )
    return result
