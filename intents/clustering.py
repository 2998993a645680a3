"""Grouping short texts (customer questions) by meaning, without guessing how many groups there are.

Agglomerative clustering with average linkage on cosine distance, cut at a distance threshold:
two groups merge while the mean distance between their members stays under the threshold, so
paraphrases of one question end up together and the number of topics comes out of the data.
The result is deterministic (no random initialisation) for a given input order.

Used for the console's "unanswered questions" and meant for any "what are customers asking
about" view: give it texts and their embeddings from any `Embedder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.cluster import AgglomerativeClustering

# Tuned on all-MiniLM-L6-v2 embeddings of BANKING77 questions (development figures; the test
# `tests/intents/test_clustering.py` checks the first): on 8 clearly different intents, 8 questions
# each, 0.5 keeps every cluster pure (purity 1.00) with 75% of each intent's questions in one
# cluster. On random draws of BANKING77's 77 often overlapping intents it scores purity 0.94 and
# 81% together (8 intents x 8), 0.88 and 78% (15 x 10): the best adjusted Rand index of the
# thresholds 0.45-0.60, or within 0.01 of it. From about 0.53 unrelated topics merge ("where is
# my card accepted" with "my card has not arrived"); below 0.5 paraphrases fall apart. Purity wins
# the close calls: a cluster's questions become an FAQ entry's phrasings, and a stray one would
# make the bot give that answer to a different question, while a split topic costs only a second
# look.
DEFAULT_DISTANCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Cluster:
    """A group of texts about one thing.

    `members` are indices into the clustered texts, the most representative first (closest to
    the group's centroid); `label` is the text of the first of them. `cohesion` is the members'
    mean cosine similarity to the centroid (1.0: all the same).
    """

    label: str
    size: int
    members: tuple[int, ...]
    cohesion: float

    def representatives(self, texts: Sequence[str], n: int = 3) -> list[str]:
        """Up to `n` distinct member texts, the most representative first."""
        seen: list[str] = []
        for index in self.members:
            text = texts[index]
            if text not in seen:
                seen.append(text)
                if len(seen) == n:
                    break
        return seen


def cluster_texts(
    texts: Sequence[str],
    embeddings: npt.ArrayLike,
    *,
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
    min_cluster_size: int = 1,
) -> list[Cluster]:
    """Cluster `texts` by their `embeddings` (one row per text; normalised here).

    Returns the clusters of at least `min_cluster_size` members, largest first (ties: the one
    whose earliest member comes first). Memory and time grow with the square of the number of
    texts: a few thousand is fine, beyond that sample or window the texts first.
    """
    if not 0.0 < distance_threshold <= 2.0:
        raise ValueError(f"distance_threshold must be in (0, 2] (cosine distance), not {distance_threshold}")
    if min_cluster_size < 1:
        raise ValueError(f"min_cluster_size must be at least 1, not {min_cluster_size}")
    vectors = unit_rows(embeddings, expected_rows=len(texts))
    if len(texts) == 0:
        return []
    if len(texts) == 1:
        labels = np.zeros(1, dtype=np.int64)
    else:
        model = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance_threshold
        )
        labels = np.asarray(model.fit_predict(vectors), dtype=np.int64)

    clusters: list[tuple[int, Cluster]] = []
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label)
        if len(indices) < min_cluster_size:
            continue
        centroid = vectors[indices].mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        similarity = vectors[indices] @ (centroid / norm) if norm > 0 else np.zeros(len(indices))
        # Most similar first; a stable sort keeps the earlier text first among equals.
        order = np.argsort(-np.round(similarity, 6), kind="stable")
        members = tuple(int(i) for i in indices[order])
        cluster = Cluster(
            label=texts[members[0]],
            size=len(members),
            members=members,
            cohesion=round(float(similarity.mean()), 4),
        )
        clusters.append((int(indices.min()), cluster))
    clusters.sort(key=lambda item: (-item[1].size, item[0]))
    return [cluster for _, cluster in clusters]


def unit_rows(embeddings: npt.ArrayLike, *, expected_rows: int | None = None) -> npt.NDArray[np.float64]:
    """The embeddings as float64 rows of length 1, checked: a 2-D array (of `expected_rows` rows
    when given), finite, no all-zero row. An empty input gives an empty (0, d) array."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    if vectors.size == 0 and expected_rows in (0, None):
        return vectors.reshape(0, vectors.shape[-1] if vectors.ndim == 2 else 0)
    if vectors.ndim != 2 or (expected_rows is not None and vectors.shape[0] != expected_rows):
        wanted = "a 2-D array" if expected_rows is None else f"one embedding row per text ({expected_rows})"
        raise ValueError(f"expected {wanted}, got an array of shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"embedding rows {np.flatnonzero(norms[:, 0] == 0).tolist()} are all zeros")
    unit: npt.NDArray[np.float64] = vectors / norms
    return unit
