"""A site's own sentence encoder: the deployment's encoder fine-tuned on the site's FAQ phrasings
(`intents.embedder_training`), used for the site's entries and questions in that language.

Each training writes a new folder, `CHATBOT_MODEL_DIR/site-encoders/<site>/<language>/<fingerprint>/`,
named by a digest of the phrasings and settings it was trained on: training again on an unchanged
FAQ reuses the folder (`demo_setup` runs on every `make run`), and a changed FAQ gets a new folder,
so the entries are embedded again (their `embedding_model` is the folder). The site's gate has to
be fit again for the new scores: `encoder_finetune --tune FILE` does it with the same labelled
questions `gate_tune` takes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.replies.faq_index import faq_embed_stale, site_language
from chatbot.replies.loading import encoder_location
from chatbot.sites.models import Site
from intents.embedder_training import (
    EmbedderTrainingConfig,
    EmbedderTrainingError,
    PhrasingGroup,
    Progress,
    embedder_fine_tune,
    trained_fingerprint,
    training_fingerprint,
)
from intents.hybrid import off_topic_corpus
from intents.languages import CHINESE, normalise_language

logger = logging.getLogger(__name__)

SITE_ENCODERS_DIR = "site-encoders"


def site_phrasings(site: Site, language: str) -> list[PhrasingGroup]:
    """The site's active entries in `language` as phrasing groups, in a stable order."""
    return [
        PhrasingGroup(entry.question, tuple(entry.phrasings[1:]), entry.answer)
        for entry in FaqEntry.objects.filter(site=site, is_active=True).order_by("pk")
        if normalise_language(entry.language) == language
    ]


def site_encoder_train(
    *,
    site: Site,
    language: str | None = None,
    config: EmbedderTrainingConfig | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fine-tune the deployment's encoder on the site's phrasings in `language` (default: the
    site's), point the site at it and embed its entries with it. A folder already trained on the
    same phrasings and settings is reused unless `force`. Returns what was done."""
    language = site_language(site, language)
    if language == CHINESE and not settings.CHATBOT_EMBEDDING_MODEL_ZH:
        # The bundled MiniLM reads Chinese characters as [UNK]: there is nothing to fine-tune.
        raise EmbedderTrainingError(
            "Chinese entries need a sentence encoder that reads Chinese (CHATBOT_EMBEDDING_MODEL_ZH) to fine-tune; "
            "without one they are matched by character n-grams"
        )
    base = settings.CHATBOT_EMBEDDING_MODEL_ZH if language == CHINESE else settings.CHATBOT_EMBEDDING_MODEL
    config = replace(
        config or EmbedderTrainingConfig(),
        base_model=(config.base_model if config else None) or encoder_location(base) or None,
        device=settings.CHATBOT_DEVICE,
    )
    groups = site_phrasings(site, language)
    off_topic = off_topic_corpus(language)
    fingerprint = training_fingerprint(groups, config, off_topic)
    relative = Path(SITE_ENCODERS_DIR) / site.key / language / fingerprint
    folder = settings.CHATBOT_MODEL_DIR / relative
    report: dict[str, Any] = {"site": site.key, "language": language, "folder": str(folder)}
    if not force and trained_fingerprint(folder) == fingerprint:
        report["trained"] = False
    else:
        report["trained"] = True
        report["training"] = asdict(embedder_fine_tune(groups, folder, config, off_topic=off_topic, progress=progress))
        logger.info("site %s: %s encoder trained in %s", site.key, language, folder)
    site.embedding_models = {**(site.embedding_models or {}), language: str(relative)}
    site.save(update_fields=["embedding_models"])
    report["embedded"] = faq_embed_stale(site=site)
    return report


def site_encoder_reset(*, site: Site, language: str | None = None) -> int:
    """Serve the deployment's encoder for the site's `language` again (the folder is kept); re-embeds
    the entries and returns how many were embedded. The gate needs tuning again afterwards."""
    language = site_language(site, language)
    site.embedding_models = {k: v for k, v in (site.embedding_models or {}).items() if k != language}
    site.save(update_fields=["embedding_models"])
    return faq_embed_stale(site=site)
