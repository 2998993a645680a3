"""The category models: which category of the taxonomy an embedded complaint belongs to.

`PrototypeCategoryModel` needs no training (the nearest category centroid of the embedded
descriptions and example phrasings); `LogisticCategoryModel` is a logistic-regression head over
the same embeddings, trained from labelled complaints (`intents.complaints.training`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from intents.classifier import FloatArray, softmax
from intents.complaints.taxonomy import CATEGORIES, OTHER, Category, load_taxonomy
from intents.embeddings import Embedder, Vectors

HEAD_FILE = "complaint_head.json"
# Below this cosine similarity to every category's centroid a complaint is `other`. Chosen on the
# airline development split (bench/complaints.py): about 5% of its labelled complaints and a
# quarter of those its annotators could not place ("Can't Tell") fall below it.
MIN_SIMILARITY = 0.25


_MENTION_OR_URL = re.compile(r"@\w+|https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")


def prepare_text(text: str) -> str:
    """Handles and links say nothing about what a complaint is about; left in, MiniLM reads
    "@user" as being about accounts."""
    return _SPACE.sub(" ", _MENTION_OR_URL.sub(" ", text)).strip()


@dataclass(frozen=True)
class CategoryPrediction:
    category: str
    score: float  # prototypes: cosine similarity to the centroid; trained head: probability


class CategoryModel(Protocol):
    """Picks a category for each embedded complaint (rows of `vectors`, in order). `among`
    restricts the choice (for measuring against data that uses only some categories)."""

    name: str
    categories: tuple[str, ...]

    def predict(self, vectors: Vectors, *, among: Collection[str] | None = None) -> list[CategoryPrediction]: ...


def _columns(categories: Sequence[str], among: Collection[str] | None) -> list[int]:
    columns = [i for i, name in enumerate(categories) if among is None or name in among]
    if not columns:
        raise ValueError(f"none of {sorted(among or ())} is a category of this model")
    return columns


class PrototypeCategoryModel:
    """Zero training: each category is the normalised mean of its embedded description and
    example phrasings, and a complaint goes to the most similar one, or to `other` when none
    reaches `min_similarity`. (On the airline development split the centroid beat the nearest
    single phrasing and the mean of the best three.)"""

    name = "prototypes"

    def __init__(self, categories: Sequence[str], centroids: Vectors, *, min_similarity: float = MIN_SIMILARITY):
        if len(categories) != len(centroids):
            raise ValueError("one centroid per category")
        self.categories = tuple(categories)
        self.centroids = centroids
        self.min_similarity = min_similarity

    @classmethod
    def from_taxonomy(
        cls, embedder: Embedder, taxonomy: Sequence[Category] | None = None, *, min_similarity: float = MIN_SIMILARITY
    ) -> PrototypeCategoryModel:
        taxonomy = load_taxonomy() if taxonomy is None else taxonomy
        texts = [text for c in taxonomy for text in (c.description, *c.examples)]
        vectors = embedder.encode(texts)
        centroids, row = [], 0
        for category in taxonomy:
            count = 1 + len(category.examples)
            mean = vectors[row : row + count].mean(axis=0)
            centroids.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            row += count
        return cls([c.name for c in taxonomy], np.asarray(centroids, dtype=np.float32), min_similarity=min_similarity)

    def predict(self, vectors: Vectors, *, among: Collection[str] | None = None) -> list[CategoryPrediction]:
        columns = _columns(self.categories, among)
        similarities = vectors @ self.centroids[columns].T
        predictions = []
        for row in similarities:
            best = int(np.argmax(row))
            score = round(float(row[best]), 4)
            category = self.categories[columns[best]] if score >= self.min_similarity else OTHER
            predictions.append(CategoryPrediction(category, score))
        return predictions


class LogisticCategoryModel:
    """A multinomial logistic-regression head over the sentence embeddings, trained from labelled
    complaints. It knows only the categories it was trained on. Saved as plain JSON
    (coefficients, not a pickle), so loading one runs no code."""

    def __init__(
        self, categories: Sequence[str], coef: FloatArray, intercept: FloatArray, *, embedding_model: str = ""
    ) -> None:
        self.categories = tuple(categories)
        self.coef = coef
        self.intercept = intercept
        self.embedding_model = embedding_model
        self.name = "logistic-head"

    @classmethod
    def fit(
        cls, vectors: Vectors, labels: Sequence[str], *, c: float = 2.0, embedding_model: str = ""
    ) -> LogisticCategoryModel:
        """Class weights balanced: the categories are far from equally common, and a rare one
        (a safety scare) matters as much as a common one."""
        # Imported here: only training needs scikit-learn, and a worker loads this module to serve.
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError("a head needs at least two categories to tell apart")
        unknown = sorted(set(labels) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}")
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        model.fit(vectors, list(labels))
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # two classes: sklearn keeps one row, for the second class
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
        return cls(
            [str(name) for name in model.classes_], coef, intercept.astype(np.float32), embedding_model=embedding_model
        )

    def probabilities(self, vectors: Vectors) -> FloatArray:
        return softmax(np.asarray(vectors @ self.coef.T + self.intercept, dtype=np.float32))

    def predict(self, vectors: Vectors, *, among: Collection[str] | None = None) -> list[CategoryPrediction]:
        columns = _columns(self.categories, among)
        probabilities = self.probabilities(vectors)[:, columns]
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [
            CategoryPrediction(self.categories[columns[int(b)]], round(float(row[b]), 4))
            for b, row in zip(best, probabilities, strict=True)
        ]

    def save(self, directory: Path | str) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / HEAD_FILE
        data = {
            "categories": list(self.categories),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "embedding_model": self.embedding_model,
        }
        path.write_text(json.dumps(data))
        return path

    @classmethod
    def load(cls, directory: Path | str) -> LogisticCategoryModel:
        path = Path(directory) / HEAD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a complaint head directory (no {HEAD_FILE})")
        data = json.loads(path.read_text())
        return cls(
            data["categories"],
            np.asarray(data["coef"], dtype=np.float32),
            np.asarray(data["intercept"], dtype=np.float32),
            embedding_model=str(data.get("embedding_model", "")),
        )
