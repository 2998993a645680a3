"""Hot topics, the pure part: what counts as a question, the trend of two counts, placing the
previous window's questions in this window's clusters, and counting and ranking the topics, on
hand-made vectors (the real embedding model is in tests/intents/test_clustering.py and
tests/analytics/test_hot_topics.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from intents.clustering import cluster_texts
from intents.topics import Direction, Trend, assign_to_clusters, hot_topics, is_question, trend_of


def unit(*rows: Sequence[float]) -> np.ndarray:
    vectors = np.asarray(rows, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", False),
        ("Thanks!", False),
        ("ok thank you", False),
        ("hello, anyone there?", False),
        ("hi! quick question", False),
        ("Yes please", False),
        ("LL12345", False),
        ("?", False),
        ("refund?", True),
        ("hi, where is my parcel", True),
        ("Do you ship to Norway?", True),
    ],
)
def test_small_talk_is_not_a_question_but_a_one_word_request_is(text: str, expected: bool) -> None:
    assert is_question(text) is expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (10, 5, Trend(Direction.RISING, 100)),
        (5, 10, Trend(Direction.FALLING, -50)),
        (3, 0, Trend(Direction.NEW, None)),
        (0, 0, Trend(Direction.STEADY, None)),
        (11, 10, Trend(Direction.STEADY, 10)),  # a tenth more: noise
        (2, 1, Trend(Direction.STEADY, 100)),  # +100 %, but one question more
        (3, 1, Trend(Direction.RISING, 200)),
        (0, 4, Trend(Direction.FALLING, -100)),
        (48, 40, Trend(Direction.RISING, 20)),  # exactly a fifth more
    ],
)
def test_the_trend_is_rising_falling_new_or_steady(current: int, previous: int, expected: Trend) -> None:
    assert trend_of(current, previous) == expected


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        trend_of(-1, 3)


def test_previous_questions_join_the_cluster_they_are_near_and_far_ones_none() -> None:
    texts = ["a1", "a2", "b1", "b2"]
    vectors = unit([1, 0.1, 0], [1, -0.1, 0], [0, 1, 0.1], [0, 1, -0.1])
    clusters = cluster_texts(texts, vectors, distance_threshold=0.25)
    a = next(i for i, c in enumerate(clusters) if texts[c.members[0]].startswith("a"))
    others = unit([1, 0.05, 0], [0.1, 1, 0], [0, 0, 1], [1, 1, 0])
    placed = assign_to_clusters(vectors, clusters, others, distance_threshold=0.25)
    assert placed == [a, 1 - a, None, None]  # [1, 1, 0]: halfway (0.30 from each on average)
    assert assign_to_clusters(vectors, clusters, np.zeros((0, 3))) == []
    assert assign_to_clusters(vectors, [], others) == [None] * 4


def test_the_nearness_test_is_the_clusterings_own_mean_distance_to_the_members() -> None:
    # A loose cluster (its members 0.165 apart): a vector near its normalised centre, but on
    # average too far from its members, would not have joined it in the clustering either.
    texts = ["t1", "t2", "l1", "l2"]
    vectors = unit([1, 0, 0.02], [1, 0, -0.02], [0.3, 1, 0], [-0.3, 1, 0])
    clusters = cluster_texts(texts, vectors, distance_threshold=0.2)
    assert sorted(sorted(c.members) for c in clusters) == [[0, 1], [2, 3]]
    loose = next(i for i, c in enumerate(clusters) if 2 in c.members)
    near_loose_centre = unit([0, 1, 0.7])
    centroid = vectors[[2, 3]].mean(axis=0)
    assert 1 - near_loose_centre[0] @ (centroid / np.linalg.norm(centroid)) < 0.2  # near the centre...
    assert 1 - near_loose_centre[0] @ centroid >= 0.2  # ...but not near the members, on average
    assert assign_to_clusters(vectors, clusters, near_loose_centre, distance_threshold=0.2) == [None]
    assert assign_to_clusters(vectors, clusters, unit([0, 1, 0.1]), distance_threshold=0.2) == [loose]


# Three directions; each question's vector is its topic's direction, a little off.
DIRECTIONS = {"order": [1, 0, 0], "password": [0, 1, 0], "refund": [0, 0, 1]}


def questions(*items: tuple[str, int]) -> tuple[list[str], np.ndarray, list[int]]:
    """(topic, day) pairs -> texts ("order 0", "order 1"...), vectors, days."""
    rng = np.random.default_rng(7)
    texts = [f"{topic} {n}" for n, (topic, _) in enumerate(items)]
    vectors = np.asarray([DIRECTIONS[topic] for topic, _ in items], dtype=np.float64)
    vectors += rng.normal(scale=0.05, size=vectors.shape)
    return texts, vectors, [day for _, day in items]


def test_topics_are_counted_in_both_windows_and_per_day_largest_first() -> None:
    texts, vectors, days = questions(
        ("password", 0), ("order", 0), ("order", 2), ("order", 2), ("refund", 1), ("refund", 2), ("password", 1)
    )
    _, previous, previous_days = questions(("order", 0), ("password", 1), ("password", 1), ("password", 2))
    topics = hot_topics(texts, vectors, days, previous, previous_days, window_days=3)
    assert [(t.label.split()[0], t.count, t.previous_count) for t in topics] == [
        ("order", 3, 1),
        ("refund", 2, 0),  # as many as password; new, so first
        ("password", 2, 3),
    ]
    by_topic = {t.label.split()[0]: t for t in topics}
    # The days of the window before, then this window's.
    assert by_topic["order"].daily == (1, 0, 0, 1, 0, 2)
    assert by_topic["password"].daily == (0, 2, 1, 1, 1, 0)
    assert by_topic["order"].trend == Trend(Direction.RISING, 200)
    assert by_topic["refund"].trend == Trend(Direction.NEW, None)
    assert by_topic["password"].trend == Trend(Direction.STEADY, -33)  # one fewer: noise
    assert sorted(texts[i] for i in by_topic["order"].representatives) == ["order 1", "order 2", "order 3"]


def test_a_topic_asked_once_is_no_topic_and_the_limit_keeps_the_largest() -> None:
    texts, vectors, days = questions(
        ("order", 0), ("order", 0), ("order", 0), ("refund", 0), ("refund", 0), ("password", 0)
    )
    empty = np.zeros((0, 3))
    topics = hot_topics(texts, vectors, days, empty, [], window_days=1)
    assert [t.label.split()[0] for t in topics] == ["order", "refund"]
    assert [t.label.split()[0] for t in hot_topics(texts, vectors, days, empty, [], window_days=1, limit=1)] == [
        "order"
    ]
    assert hot_topics([], np.zeros((0, 3)), [], empty, [], window_days=7) == []


def test_rising_topics_rank_first_among_topics_of_the_same_size() -> None:
    texts, vectors, days = questions(
        ("order", 0),
        ("order", 0),
        ("order", 0),
        ("order", 0),
        ("refund", 0),
        ("refund", 0),
        ("refund", 0),
        ("refund", 0),
    )
    _, previous, previous_days = questions(*[("order", 0)] * 8, *[("refund", 0)] * 2)
    topics = hot_topics(texts, vectors, days, previous, previous_days, window_days=1)
    assert [(t.label.split()[0], t.trend.direction) for t in topics] == [
        ("refund", Direction.RISING),
        ("order", Direction.FALLING),
    ]


def test_sampled_windows_are_scaled_to_estimates_of_the_whole_window() -> None:
    texts, vectors, days = questions(("order", 0), ("order", 1), ("refund", 1), ("refund", 1))
    _, previous, previous_days = questions(("order", 0), ("refund", 0))
    # This window: 4 of 40 questions clustered; the previous one: 2 of 10.
    topics = hot_topics(texts, vectors, days, previous, previous_days, window_days=2, scale=10.0, previous_scale=5.0)
    order = next(t for t in topics if t.label.startswith("order"))
    assert (order.count, order.previous_count, order.daily) == (20, 5, (5, 0, 10, 10))
    assert order.trend == Trend(Direction.RISING, 300)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_days": 0}, "window_days"),
        ({"window_days": 2, "days": [0, 2]}, "outside"),
        ({"window_days": 2, "days": [0]}, "one day per question"),
        ({"window_days": 2, "scale": 0.5}, "at least 1"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    texts, vectors, days = questions(("order", 0), ("order", 1))
    arguments: dict[str, object] = {"days": days, **kwargs}
    days_given = arguments.pop("days")
    with pytest.raises(ValueError, match=message):
        hot_topics(texts, vectors, days_given, np.zeros((0, 3)), [], **arguments)  # type: ignore[arg-type]
