"""The taxonomy, and the two category models and the classifier on made-up vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from intents.complaints.classifier import ComplaintClassifier, ScoredText
from intents.complaints.models import LogisticCategoryModel, PrototypeCategoryModel, prepare_text
from intents.complaints.severity import SEVERITIES
from intents.complaints.taxonomy import CATEGORIES, OTHER, Category, load_taxonomy
from intents.complaints.training import AIRLINE_REASONS
from intents.embeddings import Vectors


def test_handles_and_links_are_left_out_of_what_is_embedded() -> None:
    assert prepare_text("@united   my bag is lost https://t.co/x  again") == "my bag is lost again"


# --- Taxonomy and category models, on made-up vectors ---------------------------------------


def test_the_bundled_taxonomy_describes_every_category_but_other_with_examples() -> None:
    taxonomy = load_taxonomy()
    assert [c.name for c in taxonomy] == [c for c in CATEGORIES if c != OTHER]
    assert all(c.description and len(c.examples) >= 5 for c in taxonomy)
    assert set(AIRLINE_REASONS.values()) <= set(CATEGORIES)
    assert SEVERITIES == ("low", "medium", "high", "critical")


class AxisEmbedder:
    """Each text becomes a unit vector along the axis of the first keyword it contains."""

    model_name = "axes"
    dimension = 3
    keywords = ("parcel", "invoice", "rude")

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            hits = [k for k, word in enumerate(self.keywords) if word in text]
            if hits:
                rows[i, hits[0]] = 1.0
        return rows


TOY_TAXONOMY = (
    Category("delivery", "parcel problems", ("my parcel is late", "parcel lost")),
    Category("billing", "invoice problems", ("wrong invoice",)),
    Category("rude_or_unhelpful_service", "rude staff", ("so rude",)),
)


def test_prototypes_pick_the_nearest_category_and_other_when_none_is_near() -> None:
    model = PrototypeCategoryModel.from_taxonomy(AxisEmbedder(), TOY_TAXONOMY)
    classifier = ComplaintClassifier(AxisEmbedder(), model)
    predictions = classifier.categorise(["where is my parcel", "your invoice is wrong", "the weather"])
    assert [p.category for p in predictions] == ["delivery", "billing", OTHER]
    assert predictions[0].score == pytest.approx(1.0)


def test_prototypes_can_be_restricted_to_some_categories() -> None:
    model = PrototypeCategoryModel.from_taxonomy(AxisEmbedder(), TOY_TAXONOMY, min_similarity=-1.0)
    vectors = AxisEmbedder().encode(["parcel"])
    assert model.predict(vectors, among={"billing", "rude_or_unhelpful_service"})[0].category in {
        "billing",
        "rude_or_unhelpful_service",
    }
    with pytest.raises(ValueError, match="none of"):
        model.predict(vectors, among={"refund"})


def test_a_trained_head_learns_its_categories_and_survives_a_save_and_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = {"delivery": [1.0, 0, 0], "billing": [0, 1.0, 0], "refund": [0, 0, 1.0]}
    vectors = np.vstack([np.asarray(c) + rng.normal(0, 0.1, (20, 3)) for c in centres.values()]).astype(np.float32)
    labels = [name for name in centres for _ in range(20)]
    head = LogisticCategoryModel.fit(vectors, labels, c=1.0)
    probe = np.asarray(list(centres.values()), dtype=np.float32)
    assert [p.category for p in head.predict(probe)] == list(centres)
    head.save(tmp_path)
    loaded = LogisticCategoryModel.load(tmp_path)
    assert [p.category for p in loaded.predict(probe)] == list(centres)
    assert np.allclose(loaded.probabilities(probe), head.probabilities(probe))
    assert [p.category for p in loaded.predict(probe[1:], among={"billing", "refund"})] == ["billing", "refund"]


def test_a_head_refuses_unknown_categories_and_a_single_one() -> None:
    vectors = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="unknown categories"):
        LogisticCategoryModel.fit(vectors, ["delivery", "billing", "weather"])
    with pytest.raises(ValueError, match="at least two"):
        LogisticCategoryModel.fit(vectors, ["delivery"] * 3)


def test_a_head_with_two_categories_predicts_both() -> None:
    vectors = np.asarray([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    head = LogisticCategoryModel.fit(vectors, ["delivery", "delivery", "billing", "billing"], c=10.0)
    assert [p.category for p in head.predict(np.eye(2, dtype=np.float32))] == ["delivery", "billing"]


def test_only_complaints_are_embedded_and_the_rest_come_back_as_not_complaints() -> None:
    class Counting(AxisEmbedder):
        seen: list[str] = []

        def encode(self, texts: Sequence[str]) -> Vectors:
            self.seen.extend(texts)
            return super().encode(texts)

    embedder = Counting()
    classifier = ComplaintClassifier(embedder, PrototypeCategoryModel.from_taxonomy(AxisEmbedder(), TOY_TAXONOMY))
    results = classifier.classify(
        [
            ScoredText("Hi, where do you ship?", 0.0, "neutral"),
            ScoredText("@shop my parcel never arrived, third time I ask", -0.3, "negative"),
            ScoredText("Thanks!", 0.6, "positive"),
        ]
    )
    assert embedder.seen == ["my parcel never arrived, third time I ask"]
    assert [r.is_complaint for r in results] == [False, True, False]
    assert (results[1].category, results[1].severity) == ("delivery", "medium")
    assert results[1].reason == "mildly negative (-0.30); repeated or ongoing"
    assert (results[0].category, results[0].severity) == ("", "")
