"""Building a site's responder: the answer gate over its FAQ and intents, worded by the dialogue
model when generation is on, from the models this process has loaded (chatbot.replies.loading)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from chatbot.intent_models.models import Intent
from chatbot.registry.models import ModelKind
from chatbot.registry.selectors import model_version_active, site_scope
from chatbot.replies.faq_index import faq_index_get, site_embedder, site_gate_policy, site_language
from chatbot.replies.loading import embedder_get, generator_get, intent_classifier_get
from chatbot.sites.models import Site
from intents.classifier import CONFIG_FILE
from intents.echo import EchoResponder
from intents.generation.prompting import PromptBuilder
from intents.generation.responder import GeneratingResponder
from intents.generation.types import GenerationSettings
from intents.generation.verifier import Verifier, chinese_faq_answer_for, faq_answer_for
from intents.languages import CHINESE, ENGLISH, base_language, normalise_language
from intents.lexical import words_for
from intents.retrieval import IntentRoute, IntentRouter, RetrievalResponder
from intents.types import FaqDocument, Responder

logger = logging.getLogger(__name__)


def intent_router_for(*, site: Site) -> IntentRouter | None:
    """The site's trained intent classifier (reloaded when retrained) and its intents' actions.

    The registry's active intents version for the site (promoted by the learning loop or
    `manage.py models promote`) comes first; else the folder `intents train --site` set."""
    version = model_version_active(kind=ModelKind.INTENTS, scope=site_scope(site.key))
    location = version.path if version is not None else site.intent_model_dir
    if not location:
        return None
    directory = Path(location)
    try:
        stamp = (directory / CONFIG_FILE).stat().st_mtime
    except OSError:
        logger.warning("site %s: no intent model at %s; answering without one", site.key, directory)
        return None
    routes = {
        name: IntentRoute(action, response)
        for name, action, response in Intent.objects.filter(site=site, is_active=True).values_list(
            "name", "action", "response"
        )
    }
    return IntentRouter(intent_classifier_get(directory, stamp=stamp), routes)


def _answer_text(site: Site, language: str) -> Callable[[str, FaqDocument], str] | None:
    """How the FAQ answer is fitted to the question: in English with a verified "Yes."/"No." lead-in
    (or without the answer's own "Yes," where it does not hold); in Chinese without the answer's own
    opening 可以/有的 where the question asks beyond the passage. None for other languages."""
    if base_language(language) == ENGLISH:
        return faq_answer_for
    if language == CHINESE:
        return functools.partial(chinese_faq_answer_for, words=words_for(CHINESE, site.segmentation_terms or ()))
    return None


def responder_for(*, site: Site, language: str | None = None) -> Responder:
    """The site's responder for a question in `language` (default: the site's): the gate over its FAQ
    entries in that language and its intents, and when generation is on and the dialogue model speaks
    the language (`CHATBOT_GENERATOR_LANGUAGES`), the model wording the answers it lets through
    (`CHATBOT_GENERATOR`); or, for load tests, the fixed-reply stub (`CHATBOT_RESPONDER=echo`)."""
    if settings.CHATBOT_RESPONDER == "echo":
        return EchoResponder()
    language = site_language(site, language)
    retrieval = RetrievalResponder(
        embedder=site_embedder(site, language),
        index=faq_index_get(site=site, language=language),
        policy=site_gate_policy(site, language),
        intents=intent_router_for(site=site) if language == site_language(site, None) else None,
        answer_text=_answer_text(site, language) if settings.CHATBOT_ANSWER_LEAD_IN else None,
    )
    speaks = {normalise_language(code) for code in settings.CHATBOT_GENERATOR_LANGUAGES}
    generator = generator_get() if language in speaks else None
    if generator is None:
        return retrieval
    return GeneratingResponder(
        retrieval=retrieval,
        generator=generator,
        prompts=PromptBuilder(company=site.name),
        settings=GenerationSettings(max_new_tokens=settings.CHATBOT_MAX_NEW_TOKENS),
        min_passage_similarity=settings.CHATBOT_GROUNDING_MIN_SIMILARITY,
        verifier=Verifier(embedder=embedder_get()) if settings.CHATBOT_VERIFIER else None,
    )
