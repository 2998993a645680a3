"""Clustering customer questions: the mechanics on hand-made vectors, and the default threshold on
real MiniLM embeddings (hand-written shop questions, and BANKING77 intents)."""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from intents.clustering import Cluster, cluster_texts
from intents.embeddings import SentenceTransformerEmbedder

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is not beside the project")


def unit(*rows: Sequence[float]) -> np.ndarray:
    vectors = np.asarray(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_near_vectors_group_and_far_ones_do_not_largest_group_first() -> None:
    texts = ["a1", "b1", "a2", "a3", "b2"]
    vectors = unit([1, 0.05, 0], [0, 1, 0.1], [1, 0, 0.05], [1, 0.1, 0], [0, 1, 0])
    clusters = cluster_texts(texts, vectors, distance_threshold=0.3)
    assert [sorted(c.members) for c in clusters] == [[0, 2, 3], [1, 4]]
    assert [c.size for c in clusters] == [3, 2]


def test_the_label_is_the_member_closest_to_the_centroid() -> None:
    texts = ["edge left", "middle", "edge right"]
    vectors = unit([1, 0.3], [1, 0], [1, -0.3])
    (cluster,) = cluster_texts(texts, vectors, distance_threshold=0.5)
    assert cluster.label == "middle"
    assert cluster.members[0] == 1
    assert 0.9 < cluster.cohesion <= 1.0


def test_small_clusters_are_dropped_and_ties_keep_input_order() -> None:
    texts = ["x", "y1", "z1", "y2", "z2"]
    vectors = unit([0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0.01, 0], [0.01, 1, 0])
    clusters = cluster_texts(texts, vectors, distance_threshold=0.2, min_cluster_size=2)
    assert [sorted(c.members) for c in clusters] == [[1, 3], [2, 4]]


def test_clustering_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    texts = [f"t{i}" for i in range(40)]
    first = cluster_texts(texts, vectors, distance_threshold=0.9)
    assert first == cluster_texts(texts, vectors.copy(), distance_threshold=0.9)
    assert sorted(i for c in first for i in c.members) == list(range(40))


def test_no_text_gives_no_cluster_and_one_text_gives_one() -> None:
    assert cluster_texts([], np.zeros((0, 4))) == []
    assert cluster_texts(["only"], unit([1, 2])) == [Cluster(label="only", size=1, members=(0,), cohesion=1.0)]


def test_representatives_are_distinct_texts_most_typical_first() -> None:
    texts = ["refund?", "refund?", "money back?", "can I get a refund"]
    (cluster,) = cluster_texts(texts, unit([1, 0], [1, 0], [1, 0.3], [1, -0.1]), distance_threshold=0.5)
    assert cluster.representatives(texts, n=2) == ["refund?", "can I get a refund"]


@pytest.mark.parametrize(
    ("texts", "vectors", "kwargs", "message"),
    [
        (["a", "b"], np.ones((3, 2)), {}, "one embedding row per text"),
        (["a", "b"], np.array([[1.0, 0.0], [0.0, 0.0]]), {}, r"rows \[1\] are all zeros"),
        (["a"], np.array([[np.nan, 1.0]]), {}, "NaN"),
        (["a"], np.ones((1, 2)), {"distance_threshold": 0.0}, "distance_threshold"),
        (["a"], np.ones((1, 2)), {"min_cluster_size": 0}, "min_cluster_size"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(
    texts: list[str], vectors: np.ndarray, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_texts(texts, vectors, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.load()


SHOP_QUESTIONS = {
    "delivery": [
        "Where is my parcel?",
        "My order still hasn't arrived",
        "When will my package be delivered?",
        "How long does shipping take?",
        "my delivery is late, where is it",
    ],
    "refund": [
        "How do I get a refund?",
        "I want my money back",
        "Can I return this and be reimbursed?",
        "When will I receive my refund?",
    ],
    "password": [
        "I forgot my password",
        "How can I reset my password?",
        "I can't log in to my account, password doesn't work",
        "reset password link not working",
    ],
    "gift card": [
        "Do you sell gift cards?",
        "Can I buy a gift voucher for a friend?",
        "How do I use my gift card?",
    ],
}


@pytest.mark.slow
def test_paraphrases_of_shop_questions_share_a_cluster_and_topics_stay_apart(
    minilm: SentenceTransformerEmbedder,
) -> None:
    texts = [q for questions in SHOP_QUESTIONS.values() for q in questions]
    topics = [topic for topic, questions in SHOP_QUESTIONS.items() for _ in questions]
    clusters = cluster_texts(texts, minilm.encode(texts))
    purity, _ = purity_and_togetherness(topics, clusters)
    assert purity == 1.0  # no cluster mixes two topics
    grouped = {topics[c.members[0]] for c in clusters if c.size >= 2}
    assert grouped == set(SHOP_QUESTIONS)  # every topic has paraphrases clustered together
    assert len(clusters) <= 2 * len(SHOP_QUESTIONS)


PARAPHRASES = {
    "order": [
        "Where is my order?",
        "where's my order",
        "Has my order shipped yet?",
        "I haven't received my order yet",
        "when will my order arrive",
    ],
    "password": [
        "How do I reset my password?",
        "I forgot my password",
        "reset my password please",
        "I can't remember my password, how do I change it?",
    ],
    "refund": ["I want a refund", "Can I get a refund?", "I'd like a refund for my order", "refund please"],
}


@pytest.mark.slow
def test_paraphrases_of_one_question_end_in_one_cluster_and_different_questions_apart(
    minilm: SentenceTransformerEmbedder,
) -> None:
    # What hot topics rest on: each of these groups is one topic, and one topic only.
    texts = [q for questions in PARAPHRASES.values() for q in questions]
    topics = [topic for topic, questions in PARAPHRASES.items() for _ in questions]
    clusters = cluster_texts(texts, minilm.encode(texts))
    assert sorted(sorted({topics[i] for i in c.members}) for c in clusters) == [["order"], ["password"], ["refund"]]
    assert sorted(c.size for c in clusters) == sorted(len(q) for q in PARAPHRASES.values())


# Eight BANKING77 intents about clearly different things; 8 questions each, drawn reproducibly.
DISTINCT_INTENTS = (
    "card_arrival",
    "exchange_rate",
    "lost_or_stolen_phone",
    "terminate_account",
    "age_limit",
    "apple_pay_or_google_pay",
    "change_pin",
    "country_support",
)


@pytest.mark.slow
@needs_shared
def test_banking77_questions_of_different_intents_never_share_a_cluster(minilm: SentenceTransformerEmbedder) -> None:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with (SHARED / "banking77" / "train.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"])
    rng = random.Random(0)
    texts, intents = [], []
    for intent in DISTINCT_INTENTS:
        texts += rng.sample(by_intent[intent], 8)
        intents += [intent] * 8
    clusters = cluster_texts(texts, minilm.encode(texts))
    purity, together = purity_and_togetherness(intents, clusters)
    # Measured at the default threshold: purity 1.00, 75% of each intent in its main cluster.
    assert purity >= 0.95
    assert together >= 0.7
    assert len(clusters) <= 2 * len(DISTINCT_INTENTS)


def purity_and_togetherness(truth: Sequence[str], clusters: Sequence[Cluster]) -> tuple[float, float]:
    """Purity: the share of texts in clusters whose majority is their own topic. Togetherness
    (inverse purity): the share of each topic's texts in that topic's largest cluster."""
    total = len(truth)
    purity = sum(Counter(truth[i] for i in c.members).most_common(1)[0][1] for c in clusters) / total
    where: dict[str, list[int]] = defaultdict(list)
    for number, cluster in enumerate(clusters):
        for i in cluster.members:
            where[truth[i]].append(number)
    together = sum(Counter(numbers).most_common(1)[0][1] for numbers in where.values()) / total
    return purity, together
