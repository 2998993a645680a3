"""This process's sentiment scorer, following the model registry.

`sentiment_scorer_get()` is called for every message scored. It looks up the registry's active
sentiment version (one indexed query) and reloads only when that changed, so a promote or
rollback takes effect on each worker's next task without a restart. With no active version it
scores with the VADER lexicon, which needs no training.

`complaint_classifier_get()` is the complaint classifier that runs in the same step.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.conf import settings

from chatbot.knowledge.answering import embedder_get
from chatbot.registry.models import ModelKind
from chatbot.registry.selectors import model_version_active
from intents.complaints import ComplaintClassifier
from intents.sentiment import EncoderSentimentScorer, LexiconSentimentScorer, SentimentScorer

logger = logging.getLogger(__name__)

_lock = threading.Lock()
LEXICON_KEY = "lexicon"


@dataclass(frozen=True)
class _Loaded:
    key: str  # what was loaded: "version:<pk>" or "lexicon"
    scorer: SentimentScorer


_loaded: _Loaded | None = None


def sentiment_scorer_get() -> SentimentScorer:
    """The scorer to use now: the registry's active sentiment version, else the lexicon."""
    global _loaded
    version = model_version_active(kind=ModelKind.SENTIMENT)
    key = f"version:{version.pk}" if version is not None else LEXICON_KEY
    with _lock:
        if _loaded is None or _loaded.key != key:
            scorer: SentimentScorer
            if version is None:
                scorer = LexiconSentimentScorer()
            else:
                # A broken model directory raises here, on every task, rather than quietly
                # scoring with the lexicon: the two scorers' scores are not on one scale.
                scorer = EncoderSentimentScorer.load(version.path, device=settings.CHATBOT_SENTIMENT_DEVICE)
                scorer.name = f"sentiment/{version.name}"
            logger.info("loaded sentiment scorer %s", scorer.name)
            _loaded = _Loaded(key, scorer)
        return _loaded.scorer


def sentiment_scorer_forget() -> None:
    """Drop the loaded scorer (tests; the next call loads again)."""
    global _loaded
    with _lock:
        _loaded = None


_complaints: ComplaintClassifier | None = None


def complaint_classifier_get() -> ComplaintClassifier:
    """This process's complaint classifier: the taxonomy's prototypes over the answering
    embedding model (loaded once, shared with the FAQ search), built on first use and again
    only if that model is replaced. It needs no training, so it does not follow the registry."""
    global _complaints
    embedder = embedder_get()
    with _lock:
        if _complaints is None or _complaints.embedder is not embedder:
            _complaints = ComplaintClassifier.load(embedder)
            logger.info("loaded complaint classifier %s", _complaints.name)
        return _complaints
