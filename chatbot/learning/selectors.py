"""Reads of the learning loop: the logged exchanges that become training data, and the runs."""

from __future__ import annotations

from itertools import groupby

from django.db.models import QuerySet

from chatbot.conversations.models import Decision, Feedback, Message, Sender
from chatbot.knowledge.models import FaqEntry
from chatbot.learning.models import RunStatus, SentimentCorrection, TrainingRun
from chatbot.sites.models import Site
from intents.learning import LoggedMessage, Passage, TrainingPair, operator_reply_pairs


def liked_answer_pairs(*, site: Site | None = None) -> list[TrainingPair]:
    """Bot answers the customer gave a thumbs up, with the question they answered and the FAQ
    entries they were drawn from (as they read now)."""
    answers = Message.objects.filter(
        sender=Sender.BOT, feedback=Feedback.UP, decision=Decision.ANSWER, reply_to__isnull=False
    ).select_related("reply_to", "conversation__site")
    if site is not None:
        answers = answers.filter(conversation__site=site)
    answers = answers.order_by("pk")
    entry_ids = {int(s["id"]) for m in answers for s in m.sources if isinstance(s, dict) and "id" in s}
    entries = {e.pk: e for e in FaqEntry.objects.filter(pk__in=entry_ids)}
    pairs = []
    for message in answers:
        question = message.reply_to
        assert question is not None  # filtered above
        passages = tuple(
            Passage(entries[int(s["id"])].question, entries[int(s["id"])].answer)
            for s in message.sources
            if isinstance(s, dict) and int(s.get("id", 0)) in entries
        )
        pairs.append(
            TrainingPair(
                question.text,
                message.text,
                "liked_answer",
                message.conversation.site.key,
                message.intent,
                passages,
                {"conversation": message.conversation_id, "messages": [question.pk, message.pk]},
            )
        )
    return pairs


def operator_pairs(*, site: Site | None = None) -> list[TrainingPair]:
    """What operators answered during handoffs (see `intents.learning.operator_reply_pairs`)."""
    conversations = Message.objects.filter(sender=Sender.OPERATOR)
    if site is not None:
        conversations = conversations.filter(conversation__site=site)
    rows = (
        Message.objects.filter(conversation__in=conversations.values("conversation_id"))
        .order_by("conversation_id", "seq")
        .values_list("conversation_id", "conversation__site__key", "pk", "sender", "text", "decision")
    )
    pairs: list[TrainingPair] = []
    for (conversation_id, site_key), messages in groupby(rows.iterator(), key=lambda row: (row[0], row[1])):
        logged = [LoggedMessage(pk, sender, text, decision) for _, _, pk, sender, text, decision in messages]
        pairs.extend(operator_reply_pairs(logged, site=site_key, conversation=conversation_id))
    return pairs


def faq_pairs(*, site: Site | None = None) -> list[TrainingPair]:
    """Every phrasing of every active FAQ entry, answered by the entry."""
    entries = FaqEntry.objects.filter(is_active=True).select_related("site").order_by("site_id", "pk")
    if site is not None:
        entries = entries.filter(site=site)
    return [
        TrainingPair(
            phrasing,
            entry.answer,
            "faq",
            entry.site.key,
            "faq",
            (Passage(entry.question, entry.answer),),
            {"faq_entry": entry.pk},
        )
        for entry in entries
        for phrasing in entry.phrasings
    ]


def training_pairs_collect(*, site: Site | None = None) -> list[TrainingPair]:
    """Every candidate pair of the logs and the FAQ, before cleaning (`intents.learning.prepare_pairs`)."""
    return [*operator_pairs(site=site), *liked_answer_pairs(site=site), *faq_pairs(site=site)]


def sentiment_corrections(*, site: Site | None = None) -> list[tuple[str, str]]:
    """(customer message text, label) that people set by hand."""
    corrections = SentimentCorrection.objects.all()
    if site is not None:
        corrections = corrections.filter(message__conversation__site=site)
    return list(corrections.order_by("pk").values_list("message__text", "label"))


def training_runs_list(*, limit: int = 20) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("site").order_by("-created_at", "-pk")[:limit]


def training_run_open() -> TrainingRun | None:
    return TrainingRun.objects.filter(is_open=True).first()


def training_run_last_succeeded() -> TrainingRun | None:
    return TrainingRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-finished_at").first()
