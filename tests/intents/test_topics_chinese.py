"""Hot topics of Chinese questions: grouped by their jieba words, the sites' names kept whole,
never mixed with English questions."""

from __future__ import annotations

import numpy as np
import pytest

from intents.topics import chinese_words, hot_topics, is_question, topic_vectors


@pytest.mark.parametrize(
    ("text", "expected"), [("你好", False), ("谢谢你", False), ("好的", False), ("运费多少钱", True)]
)
def test_chinese_small_talk_is_not_a_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


def test_a_sites_names_stay_whole_when_a_question_is_segmented() -> None:
    assert "羊毛毯" not in chinese_words("羊毛毯怎么洗")  # jieba alone cuts it: 羊 / 毛毯
    assert chinese_words("Lumen & Loom的羊毛毯可以机洗吗", ["羊毛毯", "Lumen & Loom"])[:2] == ["lumen & loom", "羊毛毯"]


def test_chinese_paraphrases_share_a_topic_and_never_one_with_english_questions() -> None:
    texts = ["运费多少钱？", "运费怎么算", "请问运费是多少", "羊毛毯怎么洗", "羊毛毯可以机洗吗", "羊毛毯洗了会缩吗"]
    texts += ["How much is shipping?", "shipping cost?"]
    dense = np.random.default_rng(0).normal(size=(len(texts), 8))
    dense[6] = dense[7] + 0.01  # the English pair: one topic by its embeddings
    vectors = topic_vectors(texts, dense, ["羊毛毯"])
    topics = hot_topics(texts, vectors, [0] * len(texts), np.zeros((0, vectors.shape[1])), [], window_days=1)
    groups = sorted(sorted(texts[i] for i in t.representatives) for t in topics)
    assert groups == sorted([sorted(texts[:3]), sorted(texts[3:6]), sorted(texts[6:8])])


def test_without_chinese_questions_the_embeddings_are_used_as_they_are() -> None:
    dense = np.eye(3)
    assert np.array_equal(topic_vectors(["a b c", "d e f", "g h i"], dense), dense)
