"""The answering models of a worker process: loaded once, FAQ indexes cached per site.

A worker keeps each site's FAQ index in memory together with the site's `faq_version`; when an
entry changes the version moves on and the next question rebuilds the index, re-embedding only
the entries whose text changed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site
from intents.classifier import CONFIG_FILE, EncoderIntentClassifier, IntentClassifier
from intents.echo import EchoResponder
from intents.embeddings import Embedder, SentenceTransformerEmbedder
from intents.gate import GatePolicy
from intents.retrieval import FaqIndex, IntentRoute, IntentRouter, RetrievalResponder
from intents.types import FaqDocument, Responder

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_embedder: Embedder | None = None


@dataclass(frozen=True)
class _CachedIndex:
    faq_version: int
    index: FaqIndex


_indexes: dict[int, _CachedIndex] = {}


def embedder_get() -> Embedder:
    """The process's embedding model, loaded on first use."""
    global _embedder
    with _lock:
        if _embedder is None:
            _embedder = SentenceTransformerEmbedder.load(
                settings.CHATBOT_EMBEDDING_MODEL or None, device=settings.CHATBOT_DEVICE
            )
            logger.info("loaded embedding model %s", _embedder.model_name)
        return _embedder


def models_warm_up() -> None:
    """Load the answering models now (embedder, and the dialogue model when generation is local)."""
    embedder_get()
    if settings.CHATBOT_GENERATOR == "local":
        from chatbot.dialogue.loading import generator_get

        try:
            generator_get()
        except Exception:  # the database may not be migrated yet; the first reply loads it
            logger.exception("could not load the dialogue model at start-up")


def embedder_warm_up_in_background() -> None:
    """Load the models on a thread now, so the first customer does not wait for them."""
    threading.Thread(target=models_warm_up, name="models-warm-up", daemon=True).start()


def faq_embed_stale(*, site: Site, embedder: Embedder | None = None) -> int:
    """Embed the site's entries whose text or model changed since they were embedded.

    Returns how many entries were embedded. Saves through `update()` so the write does not
    count as an FAQ change (that would invalidate the index it is building).
    """
    embedder = embedder or embedder_get()
    stale = [
        entry
        for entry in FaqEntry.objects.filter(site=site)
        if entry.embedding is None
        or entry.embedding_model != embedder.model_name
        or entry.embedded_hash != entry.content_hash()
    ]
    if not stale:
        return 0
    texts = [text for entry in stale for text in entry.phrasings]
    vectors = embedder.encode(texts)
    row = 0
    for entry in stale:
        count = len(entry.phrasings)
        block = np.ascontiguousarray(vectors[row : row + count], dtype=np.float32)
        row += count
        FaqEntry.objects.filter(pk=entry.pk).update(
            embedding=block.tobytes(), embedding_model=embedder.model_name, embedded_hash=entry.content_hash()
        )
    logger.info("embedded %d FAQ entries of site %s", len(stale), site.key)
    return len(stale)


def faq_index_get(*, site: Site) -> FaqIndex:
    """The site's FAQ index, rebuilt only when an entry changed since it was cached."""
    cached = _indexes.get(site.pk)
    if cached is not None and cached.faq_version == site.faq_version:
        return cached.index
    embedder = embedder_get()
    faq_embed_stale(site=site, embedder=embedder)
    entries = []
    for entry in FaqEntry.objects.filter(site=site, is_active=True):
        vectors = np.frombuffer(bytes(entry.embedding or b""), dtype=np.float32).reshape(-1, embedder.dimension)
        document = FaqDocument(entry.pk, entry.question, entry.answer, tuple(entry.phrasings[1:]))
        entries.append((document, vectors))
    index = FaqIndex.from_vectors(entries)
    _indexes[site.pk] = _CachedIndex(site.faq_version, index)
    return index


_classifiers: dict[str, tuple[float, IntentClassifier]] = {}


def intent_router_for(*, site: Site) -> IntentRouter | None:
    """The site's trained intent classifier (reloaded when retrained) and its intents' actions.

    The registry's active intents version for the site (promoted by the learning loop or
    `manage.py models promote`) comes first; else the folder `intents train --site` set."""
    from chatbot.intents.models import Intent
    from chatbot.registry.models import ModelKind
    from chatbot.registry.selectors import model_version_active, site_scope

    version = model_version_active(kind=ModelKind.INTENTS, scope=site_scope(site.key))
    location = version.path if version is not None else site.intent_model_dir
    if not location:
        return None
    directory = Path(location)
    config = directory / CONFIG_FILE
    try:
        stamp = config.stat().st_mtime
    except OSError:
        logger.warning("site %s: no intent model at %s; answering without one", site.key, directory)
        return None
    with _lock:
        cached = _classifiers.get(str(directory))
        if cached is None or cached[0] != stamp:
            cached = (stamp, EncoderIntentClassifier.load(directory, device=settings.CHATBOT_DEVICE))
            _classifiers[str(directory)] = cached
    routes = {
        name: IntentRoute(action, response)
        for name, action, response in Intent.objects.filter(site=site, is_active=True).values_list(
            "name", "action", "response"
        )
    }
    return IntentRouter(cached[1], routes)


def responder_for(*, site: Site) -> Responder:
    """The site's responder: the gate over its FAQ and intents, and when generation is on, the
    dialogue model wording the answers it lets through (`CHATBOT_GENERATOR`); or, for load tests,
    the fixed-reply stub (`CHATBOT_RESPONDER=echo`)."""
    if settings.CHATBOT_RESPONDER == "echo":
        return EchoResponder()
    from chatbot.dialogue.loading import generator_get
    from intents.generation.prompting import PromptBuilder
    from intents.generation.responder import GeneratingResponder
    from intents.generation.types import GenerationSettings

    policy = GatePolicy(
        answer_threshold=site.answer_threshold,
        clarify_margin=site.clarify_margin,
        max_failed_turns=settings.CHATBOT_MAX_FAILED_TURNS,
    )
    retrieval = RetrievalResponder(
        embedder=embedder_get(), index=faq_index_get(site=site), policy=policy, intents=intent_router_for(site=site)
    )
    generator = generator_get()
    if generator is None:
        return retrieval
    return GeneratingResponder(
        retrieval=retrieval,
        generator=generator,
        prompts=PromptBuilder(company=site.name),
        settings=GenerationSettings(max_new_tokens=settings.CHATBOT_MAX_NEW_TOKENS),
        min_passage_similarity=settings.CHATBOT_GROUNDING_MIN_SIMILARITY,
    )
