"""The FAQ indexes of a worker process, cached per site.

A worker keeps each site's FAQ index in memory together with the site's `faq_version`; when an
entry changes the version moves on and the next question rebuilds the index, re-embedding only
the entries whose text changed. An edit also queues `faq_refresh` (chatbot.replies.receivers), so
the index is ready before the next customer asks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.replies.loading import embedder_get, off_topic_vectors
from chatbot.sites.models import Site
from intents.embeddings import Embedder
from intents.hybrid import DEFAULT_RERANKER, HybridIndex, Reranker
from intents.retrieval import FaqIndex, Retriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CachedIndex:
    faq_version: int
    index: Retriever


_indexes: dict[int, _CachedIndex] = {}


def site_reranker(site: Site) -> Reranker:
    """The site's own reranker weights (fit by `gate_tune`), else the shipped default."""
    if site.retrieval_reranker:
        try:
            return Reranker.from_json(site.retrieval_reranker)
        except ValueError:
            logger.warning("site %s: stored reranker weights do not fit this version; using the default", site.key)
    return DEFAULT_RERANKER


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
    texts = [entry.embedded_texts() for entry in stale]
    vectors = embedder.encode([text for block in texts for text in block])
    row = 0
    for entry, block_texts in zip(stale, texts, strict=True):
        block = np.ascontiguousarray(vectors[row : row + len(block_texts)], dtype=np.float32)
        row += len(block_texts)
        FaqEntry.objects.filter(pk=entry.pk).update(
            embedding=block.tobytes(), embedding_model=embedder.model_name, embedded_hash=entry.content_hash()
        )
    logger.info("embedded %d FAQ entries of site %s", len(stale), site.key)
    return len(stale)


def faq_index_get(*, site: Site) -> Retriever:
    """The site's FAQ index, rebuilt only when an entry changed since it was cached: the hybrid
    index (`CHATBOT_RETRIEVAL=hybrid`, the default) or cosine over phrasings only (`dense`)."""
    cached = _indexes.get(site.pk)
    if cached is not None and cached.faq_version == site.faq_version:
        return cached.index
    embedder = embedder_get()
    faq_embed_stale(site=site, embedder=embedder)
    entries = []
    for entry in FaqEntry.objects.filter(site=site, is_active=True):
        vectors = np.frombuffer(bytes(entry.embedding or b""), dtype=np.float32).reshape(-1, embedder.dimension)
        entries.append((entry.as_document(), vectors))
    index: Retriever
    if settings.CHATBOT_RETRIEVAL == "dense":
        index = FaqIndex.from_vectors([(document, vectors[: len(document.phrasings)]) for document, vectors in entries])
    else:
        index = HybridIndex.from_vectors(
            entries, reranker=site_reranker(site), off_topic_vectors=off_topic_vectors(embedder)
        )
    _indexes[site.pk] = _CachedIndex(site.faq_version, index)
    return index


def faq_refresh(*, site_id: int) -> int:
    """Embed the site's stale entries and rebuild this process's index of the site.

    Returns how many entries were embedded. Idempotent: a second run finds nothing stale.
    """
    site = Site.objects.filter(pk=site_id).first()
    if site is None:  # deleted meanwhile
        return 0
    embedded = faq_embed_stale(site=site)
    # Rebuilding the cached index now spares the next customer of this process the rebuild.
    faq_index_get(site=site)
    return embedded
