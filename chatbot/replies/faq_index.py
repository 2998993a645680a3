"""The FAQ indexes of a worker process, cached per site and language.

A site answers each language from its entries in that language only: a Chinese question searches
the Chinese entries, with Chinese words (`intents.lexical.words_for`: jieba and the site's
`segmentation_terms`), the Chinese off-topic corpus, and the language's own gate
(`Site.language_gates`). A language the site has no entries in gets an empty index, so an honest
hand-off.

A worker keeps each index in memory together with the site's `faq_version`; when an entry changes
the version moves on and the next question rebuilds the index, re-embedding only the entries whose
text changed. An edit also queues `faq_refresh` (chatbot.replies.receivers), so the index is ready
before the next customer asks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.replies.loading import embedder_for, language_encoder_name, off_topic_vectors, site_encoder_at
from chatbot.sites.models import Site
from intents.embedder_training import trained_base_model
from intents.embeddings import BUNDLED_MINILM, Embedder
from intents.gate import GatePolicy
from intents.hybrid import HybridIndex, Reranker, default_reranker, encoder_name
from intents.languages import normalise_language
from intents.lexical import words_for
from intents.retrieval import FaqIndex, Retriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CachedIndex:
    faq_version: int
    segmentation_terms: tuple[str, ...]
    site_name: str  # with the terms, the site's own names: never taken for another company
    stored_reranker: object  # as stored on the site: a new `gate_tune` fit rebuilds the index
    embedder_name: str  # a new site encoder rebuilds it too
    index: Retriever


_indexes: dict[tuple[int, str], _CachedIndex] = {}


def site_language(site: Site, language: str | None) -> str:
    """`language` as the site's gates and entries name it; the site's default language when None."""
    return normalise_language(language or site.language)


def _stored_reranker(site: Site, language: str) -> object:
    """The reranker weights `gate_tune` stored for the site's `language`, as stored (None: none)."""
    if language == site_language(site, None):
        return site.retrieval_reranker
    return (site.language_gates or {}).get(language, {}).get("reranker")


def site_encoder_location(site: Site, language: str | None = None) -> Path | None:
    """The folder of the site's own encoder for `language` (`Site.embedding_models`), or None."""
    location = (site.embedding_models or {}).get(site_language(site, language))
    if not location:
        return None
    path = Path(str(location))
    return path if path.is_absolute() else settings.CHATBOT_MODEL_DIR / path


_encoders_missing: set[Path] = set()


def site_embedder(site: Site, language: str | None = None) -> Embedder:
    """The embedder of the site's entries and questions in `language`: the site's own encoder,
    fine-tuned on its FAQ (`encoder_finetune`), else the language's (`loading.embedder_for`). A
    site encoder whose folder is gone is logged and replaced by the language's, so the site keeps
    answering (with a gate fit for the other encoder: run `encoder_finetune` again)."""
    language = site_language(site, language)
    location = site_encoder_location(site, language)
    if location is not None:
        try:
            return site_encoder_at(location)
        except (OSError, ValueError):
            if location not in _encoders_missing:  # once per process, not on every reply
                _encoders_missing.add(location)
                logger.exception(
                    "site %s: its %s encoder at %s cannot be loaded; using the default", site.key, language, location
                )
    return embedder_for(language)


def site_encoder_name(site: Site, language: str | None, embedder: Embedder) -> str:
    """The encoder `embedder` (serving the site's `language`) as rerankers record it
    (`intents.hybrid.encoder_name`): the site's own, fine-tuned from the model its folder names, or
    the language's encoder."""
    location = site_encoder_location(site, language)
    own = location is not None and embedder.model_name == str(location)
    base = trained_base_model(location) if own and location is not None else None
    if base is None:  # the language's encoder as it is set now (or a site folder that does not say)
        return encoder_name(language_encoder_name(site_language(site, language)), fine_tuned=own)
    return encoder_name(base or BUNDLED_MINILM, fine_tuned=True)


def site_reranker(site: Site, language: str | None = None, encoder: str = "") -> Reranker:
    """The site's own reranker weights for `language` (fit by `gate_tune`) where they were fit over
    `encoder` (`site_encoder_name`), the encoder now serving it, else the shipped default for it."""
    language = site_language(site, language)
    stored = _stored_reranker(site, language)
    if stored:
        try:
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
            reranker = Reranker.from_json(stored)
        except ValueError:
            logger.warning("site %s: stored reranker weights do not fit this version; using the default", site.key)
        else:
            if reranker.fits(encoder):
                return reranker
            logger.warning(
                "site %s: its %s reranker was fit over %s, not %s; using the default until gate_tune runs again",
                site.key,
                language,
                reranker.encoder,
                encoder,
            )
    return default_reranker(language, encoder)


def site_gate_policy(site: Site, language: str | None = None) -> GatePolicy:
    """The site's answer threshold and clarify margin for `language` (`Site.language_gates`, else its own)."""
    gate = (site.language_gates or {}).get(site_language(site, language), {})
    return GatePolicy(
        answer_threshold=float(gate.get("answer_threshold", site.answer_threshold)),
        clarify_margin=float(gate.get("clarify_margin", site.clarify_margin)),
        max_failed_turns=settings.CHATBOT_MAX_FAILED_TURNS,
    )


def faq_embed_stale(*, site: Site, embedder: Embedder | None = None) -> int:
    """Embed the site's entries whose text or model changed since they were embedded, each by its
    language's embedder (`site_embedder`; `embedder`, when given, stands in for the one of
    that model, e.g. a memoising wrapper).

    Returns how many entries were embedded. Saves through `update()` so the write does not
    count as an FAQ change (that would invalidate the index it is building).
    """
    embedded = 0
    by_language: dict[str, list[FaqEntry]] = {}
    for entry in FaqEntry.objects.filter(site=site):
        by_language.setdefault(normalise_language(entry.language), []).append(entry)
    for language, entries in by_language.items():
        model = site_embedder(site, language)
        if embedder is not None and embedder.model_name == model.model_name:
            model = embedder
        embedded += _embed_stale(entries, model)
    if embedded:
        logger.info("embedded %d FAQ entries of site %s", embedded, site.key)
    return embedded


def _embed_stale(entries: list[FaqEntry], embedder: Embedder) -> int:
    stale = [
        entry
        for entry in entries
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
    return len(stale)


def faq_index_get(*, site: Site, language: str | None = None) -> Retriever:
    """The site's FAQ index of `language` (default: the site's), rebuilt only when an entry changed
    since it was cached: the hybrid index (`CHATBOT_RETRIEVAL=hybrid`, the default) or cosine over
    phrasings only (`dense`)."""
    language = site_language(site, language)
    terms = tuple(site.segmentation_terms or ())
    stored_reranker = _stored_reranker(site, language)
    embedder = site_embedder(site, language)
    cached = _indexes.get((site.pk, language))
    if (
        cached is not None
        and cached.faq_version == site.faq_version
        and cached.segmentation_terms == terms
        and cached.site_name == site.name
        and cached.stored_reranker == stored_reranker
        and cached.embedder_name == embedder.model_name
    ):
        return cached.index
    faq_embed_stale(site=site)
    entries = []
    for entry in FaqEntry.objects.filter(site=site, is_active=True):
        if normalise_language(entry.language) != language:
            continue
        vectors = np.frombuffer(bytes(entry.embedding or b""), dtype=np.float32).reshape(-1, embedder.dimension)
        entries.append((entry.as_document(), vectors))
    index: Retriever
    if settings.CHATBOT_RETRIEVAL == "dense":
        index = FaqIndex.from_vectors([(document, vectors[: len(document.phrasings)]) for document, vectors in entries])
    else:
        corpus = off_topic_vectors(embedder, language)
        index = HybridIndex.from_vectors(
            entries,
            reranker=site_reranker(site, language, site_encoder_name(site, language, embedder)),
            off_topic_vectors=corpus if len(corpus) else None,
            words=words_for(language, terms),
            own_names=(site.name, *terms),
        )
    _indexes[(site.pk, language)] = _CachedIndex(
        site.faq_version, terms, site.name, stored_reranker, embedder.model_name, index
    )
    return index


def site_languages(site: Site) -> list[str]:
    """Every language the site answers in, its default first."""
    languages = [site_language(site, None)]
    return languages + [code for code in map(normalise_language, site.languages or []) if code not in languages]


def faq_refresh(*, site_id: int) -> int:
    """Embed the site's stale entries and rebuild this process's index of the site.

    Returns how many entries were embedded. Idempotent: a second run finds nothing stale.
    """
    site = Site.objects.filter(pk=site_id).first()
    if site is None:  # deleted meanwhile
        return 0
    embedded = faq_embed_stale(site=site)
    # Rebuilding the cached indexes now spares the next customer of this process the rebuild.
    for language in site_languages(site):
        faq_index_get(site=site, language=language)
    return embedded
