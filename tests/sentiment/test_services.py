from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.conversations.models import Sender
from chatbot.registry.services import model_version_register
from chatbot.replies import loading
from chatbot.sentiment.receivers import sentiment_dispatch
from chatbot.sentiment.selectors import conversation_sentiment_trajectory
from chatbot.sentiment.services import message_sentiment_score, sentiment_backfill
from intents.sentiment.scorers import SentimentScore

pytestmark = pytest.mark.django_db


class AlwaysPositive:
    """Stands in for a trained model: the tests check which scorer is used, not how well it scores."""

    name = "always-positive"

    def score(self, texts: Any) -> list[SentimentScore]:
        probabilities = {"negative": 0.05, "neutral": 0.15, "positive": 0.8}
        return [SentimentScore("positive", 0.75, probabilities) for _ in texts]


def test_scoring_a_customer_message_updates_it_and_its_conversation_and_tells_the_consoles(
    say: Callable[..., Any], published: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    (message,) = say("This is terrible, my parcel is lost and nobody answers!")
    with django_capture_on_commit_callbacks(execute=True):
        message_sentiment_score(message.pk)
    message.refresh_from_db()
    conversation = message.conversation
    conversation.refresh_from_db()
    assert message.sentiment_label == "negative"
    assert message.sentiment is not None and message.sentiment < -0.5
    assert (conversation.sentiment, conversation.sentiment_label) == (message.sentiment, "negative")
    # So upset that the inbox flags it too (the strongly negative rule).
    assert published == [
        *(
            {"site_id": conversation.site_id, "conversation_id": conversation.pk, "kind": kind}
            for kind in ("escalated", "sentiment")
        ),
        # And the message itself, for a console that shows the conversation.
        {"site_id": conversation.site_id, "conversation_id": conversation.pk, "kind": "sentiment", "seq": message.seq},
    ]


def test_a_conversation_that_gets_worse_ends_with_a_negative_label_and_keeps_its_trajectory(
    say: Callable[..., Any], published: list[dict[str, Any]]
) -> None:
    customer = say("Hi! I love your shop, thank you", "Where is my order?")
    say("Your order left the warehouse yesterday.", sender=Sender.BOT)
    customer += say("This is awful. Worst service ever, I want a refund now")
    for message in customer:
        message_sentiment_score(message.pk)
    conversation = customer[0].conversation
    conversation.refresh_from_db()
    trajectory = conversation_sentiment_trajectory(conversation.pk)
    assert [p.seq for p in trajectory] == [m.seq for m in customer]
    assert [p.label for p in trajectory] == ["positive", "neutral", "negative"]
    assert conversation.sentiment_label == "negative"
    assert conversation.sentiment is not None and conversation.sentiment < 0


def test_bot_and_operator_messages_are_not_scored(say: Callable[..., Any], published: list[dict[str, Any]]) -> None:
    (reply,) = say("Great news, it ships today!", sender=Sender.BOT)
    assert message_sentiment_score(reply.pk) is None
    reply.refresh_from_db()
    assert reply.sentiment is None
    assert published == []


def test_without_a_registered_model_the_lexicon_scores(
    say: Callable[..., Any], published: list[dict[str, Any]]
) -> None:
    (message,) = say("thanks, great help")
    message_sentiment_score(message.pk)
    assert loading.sentiment_scorer_get().name == "lexicon:vader"


def test_the_registrys_active_version_is_used_and_followed_when_it_changes(
    say: Callable[..., Any], published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded: list[str] = []

    def load(path: str, *, device: str) -> AlwaysPositive:
        loaded.append(path)
        return AlwaysPositive()

    monkeypatch.setattr(loading.EncoderSentimentScorer, "load", load)
    (message,) = say("my bag never arrived, this is a disgrace")
    assert loading.sentiment_scorer_get().name == "lexicon:vader"
    (tmp_path / "m1").mkdir()
    model_version_register(kind="sentiment", name="m1", path=tmp_path / "m1", manifest={}, metrics={}, activate=True)
    message_sentiment_score(message.pk)
    message.refresh_from_db()
    assert (message.sentiment, message.sentiment_label) == (0.75, "positive")
    assert loaded == [str((tmp_path / "m1").resolve())]
    message_sentiment_score(message.pk)
    assert len(loaded) == 1  # loaded once, not per message


def test_inline_dispatch_scores_right_away(
    say: Callable[..., Any], published: list[dict[str, Any]], settings: Any
) -> None:
    settings.CHATBOT_DISPATCH = "inline"
    (message,) = say("Thank you, that was really helpful!")
    sentiment_dispatch([message.pk])
    message.refresh_from_db()
    assert message.sentiment_label == "positive"


def test_celery_dispatch_queues_the_analytics_task(say: Callable[..., Any], settings: Any, monkeypatch: Any) -> None:
    from chatbot.sentiment import tasks

    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.messages_sentiment_score, "apply_async", lambda args, **options: queued.append(*args))
    settings.CHATBOT_DISPATCH = "celery"
    first, second = say("hello", "anyone there?")
    sentiment_dispatch([first.pk, second.pk])
    assert queued == [[first.pk, second.pk]]
    assert settings.CELERY_TASK_ROUTES["sentiment.messages_sentiment_score"] == {"queue": "analytics"}


def test_backfill_scores_only_unscored_customer_messages_of_the_site(
    say: Callable[..., Any], published: list[dict[str, Any]], shop_site: Any
) -> None:
    from chatbot.conversations.models import Conversation, Message, Visitor
    from chatbot.sites.models import Site

    first, second = say("great, thanks", "this is awful")
    say("glad to help", sender=Sender.BOT)
    message_sentiment_score(first.pk)
    other = Site.objects.create(key="other", name="Other")
    elsewhere = Message.objects.create(
        conversation=Conversation.objects.create(site=other, visitor=Visitor.objects.create(site=other)),
        seq=1,
        sender=Sender.CUSTOMER,
        text="terrible",
    )
    assert sentiment_backfill(site=shop_site) == 1
    second.refresh_from_db()
    elsewhere.refresh_from_db()
    assert second.sentiment_label == "negative"
    assert elsewhere.sentiment is None


def test_an_upset_customer_is_flagged_once_and_the_bot_keeps_answering_by_default(
    say: Callable[..., Any], published: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    messages = say("Where is my order?", "This is useless.", "I am disappointed, nobody helps me.")
    with django_capture_on_commit_callbacks(execute=True):
        for message in messages:
            message_sentiment_score(message.pk)
    conversation = messages[0].conversation
    conversation.refresh_from_db()
    assert conversation.escalated_at is not None
    assert conversation.escalation_reason == "2 negative messages in a row, getting worse"
    assert conversation.status == "bot"
    assert [e["kind"] for e in published].count("escalated") == 1


def test_a_site_that_asks_for_it_hands_an_upset_customer_to_a_person_before_they_ask(
    say: Callable[..., Any], published: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    (message,) = say("This is the worst, most horrible, disgusting service I have ever had!!")
    site = message.conversation.site
    site.escalate_on_negative_sentiment = True
    site.save()
    with django_capture_on_commit_callbacks(execute=True):
        message_sentiment_score(message.pk)
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.status == "waiting_human" and conversation.waiting_since is not None
    assert conversation.escalation_reason.startswith("strongly negative message (-0.")
    notice = conversation.messages.order_by("-seq").first()
    assert notice is not None and notice.sender == Sender.SYSTEM and "member of our team" in notice.text


def test_a_calm_conversation_is_not_flagged(say: Callable[..., Any], published: list[dict[str, Any]]) -> None:
    messages = say("Hi, do you ship to Spain?", "Great, thanks a lot!")
    for message in messages:
        message_sentiment_score(message.pk)
    conversation = messages[0].conversation
    conversation.refresh_from_db()
    assert conversation.escalated_at is None and conversation.escalation_reason == ""
