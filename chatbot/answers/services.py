"""The answer-quality evaluation: scripted questions through the reply path the widget uses.

Each item gets a new visitor and conversation. Its customer turns are stored with
`message_receive`, as the widget's socket stores them, and answered by the reply engine
(`chatbot.replies.services.reply_generate`, the Celery task's body) run inline, one turn after the
other. The stored replies
are scored by `intents.answer_quality`. The evaluation writes real conversations: run it against
a database you can write to (the demo's, or a copy).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.test.utils import override_settings

from chatbot.conversations.models import Message, Sender
from chatbot.conversations.services import message_receive, session_open
from chatbot.knowledge.models import FaqEntry
from chatbot.registry.models import ModelKind, ModelVersion
from chatbot.replies.loading import dialogue_model_pinned
from chatbot.replies.services import reply_generate
from chatbot.sites.models import Site
from intents.answer_quality import Item, Outcome, Reply, outcome_score

logger = logging.getLogger(__name__)

GENERATORS = ("off", "local", "openai")


class EvaluationError(ValueError):
    pass


@contextmanager
def _reply_path(*, generator: str | None, model: str | None) -> Iterator[None]:
    """Replies run inline (the stored reply is there when `message_receive` returns), with the
    generator and dialogue model asked for; everything else as configured."""
    overrides: dict[str, Any] = {"CHATBOT_DISPATCH": "inline"}
    if generator is not None:
        if generator not in GENERATORS:
            raise EvaluationError(f"--generator must be one of {', '.join(GENERATORS)}")
        overrides["CHATBOT_GENERATOR"] = generator
    with override_settings(**overrides):
        if model is None:
            yield
            return
        version = ModelVersion.objects.filter(kind=ModelKind.DIALOGUE, name=model).order_by("-pk").first()
        if version is None and model.isdigit():
            version = ModelVersion.objects.filter(kind=ModelKind.DIALOGUE, pk=int(model)).first()
        location, name = (version.path, version.name) if version is not None else (model, model)
        with dialogue_model_pinned(location, name):
            yield


def _reply_to(message: Message, answers: dict[str, str]) -> Reply:
    reply = Message.objects.filter(reply_to=message, sender=Sender.BOT).first()
    if reply is None:
        # The conversation is no longer the bot's (a person was asked in by an earlier turn).
        return Reply("", "handoff", (), "", None, False)
    cited = tuple(
        str(source.get("question", "")) for source in (reply.sources if reply.decision == "answer" else reply.options)
    )
    faq_answer = answers.get(cited[0], "") if cited and reply.decision == "answer" else ""
    timings = reply.timings or {}
    first_token = timings.get("first_token")
    return Reply(
        text=reply.text,
        decision=reply.decision,
        cited=cited,
        faq_answer=faq_answer,
        first_token_ms=float(first_token) if first_token is not None else None,
        generated=bool(faq_answer) and "+" in reply.model_version,
    )


def answers_evaluate(
    *, site: Site, items: Sequence[Item], generator: str | None = None, model: str | None = None
) -> list[Outcome]:
    """Run every item through the reply path in a conversation of its own and score the last reply."""
    answers = dict(FaqEntry.objects.filter(site=site, is_active=True).values_list("question", "answer"))
    known = set(answers)
    for item in items:
        if item.expectation is not None:
            unknown = [q for q in item.expectation.expect if q not in known]
            if unknown:
                raise EvaluationError(f"{item.turns[-1]!r} expects {unknown[0]!r}, which is no active FAQ question")
    outcomes = []
    with _reply_path(generator=generator, model=model):
        for item in items:
            session = session_open(site=site, token=None)
            last: Message | None = None
            try:
                for text in item.turns:
                    received = message_receive(visitor=session.visitor, client_id=f"eval-{uuid.uuid4().hex}", text=text)
                    last = received.message
                    # Inline dispatch answered it when the message was committed; inside an outer
                    # transaction (a test's) that waits, so the task's body runs here. It answers a
                    # message once: a second call returns the stored reply.
                    reply_generate(message_id=last.pk)
            except Exception as exc:  # a failed reply is scored as one (the run goes on)
                logger.exception("reply to %r failed", item.turns[-1][:60])
                outcomes.append(outcome_score(item, Reply(f"error: {exc}", "error", (), "", None, False)))
                continue
            assert last is not None
            outcomes.append(outcome_score(item, _reply_to(last, answers)))
    return outcomes
