"""The worker process's dialogue generator, following the model registry.

`generator_get()` is called for every reply. With `CHATBOT_GENERATOR=local` it looks up the
registry's active dialogue version (one indexed query) and reloads only when that changed, so a
promote or rollback takes effect on each worker's next task without a restart. With no active
version it serves `CHATBOT_DIALOGUE_MODEL` (the bundled SmolLM2 by default).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.conf import settings

from chatbot.registry.models import ModelKind
from chatbot.registry.selectors import model_version_active
from intents.generation.local import BUNDLED, SMOLLM2_NAME, LocalGenerator, resolve_model_location
from intents.generation.openai_compatible import OpenAICompatibleGenerator
from intents.generation.types import TextGenerator

logger = logging.getLogger(__name__)

_lock = threading.Lock()


@dataclass(frozen=True)
class _Loaded:
    key: str  # what was loaded: "version:<pk>" or "setting:<location>"
    generator: TextGenerator


_loaded: _Loaded | None = None


def dialogue_model_location() -> tuple[str, str, str]:
    """(cache key, location, name) of the model to serve now."""
    version = model_version_active(kind=ModelKind.DIALOGUE)
    if version is not None:
        return f"version:{version.pk}", version.path, f"{version.name}"
    location = resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR)
    name = SMOLLM2_NAME if settings.CHATBOT_DIALOGUE_MODEL in ("", BUNDLED) else location
    return f"setting:{location}", location, name


def generator_get() -> TextGenerator | None:
    """The generator replies are worded with, or None when generation is off."""
    global _loaded
    mode = settings.CHATBOT_GENERATOR
    if mode == "off":
        return None
    if mode == "openai":
        key = f"openai:{settings.CHATBOT_GENERATOR_URL}:{settings.CHATBOT_GENERATOR_MODEL}"
        with _lock:
            if _loaded is None or _loaded.key != key:
                remote: TextGenerator = OpenAICompatibleGenerator(
                    base_url=settings.CHATBOT_GENERATOR_URL,
                    model=settings.CHATBOT_GENERATOR_MODEL,
                    api_key=settings.CHATBOT_GENERATOR_API_KEY or None,
                    timeout_s=settings.CHATBOT_GENERATOR_TIMEOUT_S,
                )
                _loaded = _Loaded(key, remote)
            return _loaded.generator
    key, location, name = dialogue_model_location()
    with _lock:
        if _loaded is None or _loaded.key != key:
            generator: TextGenerator = LocalGenerator.load(
                location,
                name=name,
                device=settings.CHATBOT_DIALOGUE_DEVICE,
                prefix_cache_size=settings.CHATBOT_PREFIX_CACHE_SIZE,
            )
            logger.info("loaded dialogue model %s from %s", name, location)
            _loaded = _Loaded(key, generator)
        return _loaded.generator


def generator_forget() -> None:
    """Drop the loaded generator (tests; the next call loads again)."""
    global _loaded
    with _lock:
        _loaded = None
