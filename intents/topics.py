"""Hot topics: what customers ask about most in a time window, and whether each topic is rising.

Pure computing over texts, their embeddings and the day each was asked (no database): the window's
questions are clustered (`intents.clustering`), the previous window of the same length is placed
in those clusters, and each cluster's two counts give its trend. `chatbot.analytics.services`
feeds it from the stored messages and keeps the result.

Chinese questions are grouped by their words, segmented by jieba (`chinese_words`): the sentence
embedding model reads English, so its vectors of Chinese text are close to noise. `topic_vectors`
gives each question the vector of its own language, in blocks that never overlap, so a Chinese and
an English question never share a topic and each language is clustered on its own terms.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import CountVectorizer

from intents.clustering import DEFAULT_DISTANCE_THRESHOLD, Cluster, cluster_texts, unit_rows

# Words that carry no topic on their own: a message made only of these (and of words shorter than
# three letters: "hi", "ok", "no") is small talk, not a question about something.
SMALL_TALK = frozenset(
    # One string, split: easier to read and extend than a column of quoted words.
    """
    hello hey hiya howdy bye goodbye cya ciao hallo thanks thank thx thankyou cheers danke merci gracias
    yes yeah yep yup yea nope okay okey alright sure fine cool nice great good perfect awesome excellent
    brilliant super wonderful lovely amazing helpful welcome sorry please pls plz wow hmm hmmm haha lol
    morning afternoon evening night day again later see soon much lot lots very really you your all the
    and for that this too just got have has had was are greetings many there anyone quick question helps helped
    """.split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W\d_]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# Chinese small talk ("你好", "谢谢", "好的", "在吗"), and the question words and pronouns every
# question has ("请问", "怎么", "多少", "你们"): neither says what a question is about.
CHINESE_SMALL_TALK = frozenset(
    """
    你好 您好 谢谢 多谢 感谢 好的 嗯嗯 在吗 收到 再见 拜拜 是的 明白 知道 知道了 没问题 哈哈 辛苦 辛苦了 不客气 好吧
    对的 可以 行的 客服 有人 有人吗
    """.split()  # noqa: SIM905
)
_CHINESE_FUNCTION_WORDS = frozenset(
    """
    请问 怎么 怎样 怎么样 如何 什么 多少 哪里 哪个 哪些 为什么 能不能 可不可以 能否 是否 一下 我们 你们 您们 这个 那个
    现在 已经 还是 没有 还有 就是 但是 因为 所以 如果 需要 想要 一个 一些 有没有 是不是 怎么办 可以 能够 时候 一般
    """.split()  # noqa: SIM905
)
CHINESE_WORDS_KEPT = 1024


@functools.cache
def _jieba() -> Any:
    import jieba  # its dictionary loads on first use (about 1 s); only Chinese messages need it

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def chinese_words(text: str, terms: Sequence[str] = ()) -> list[str]:
    """The words of a Chinese message that say what it is about: jieba's words of two characters
    or more (and Latin words of three letters or more), without question words and pronouns. The
    `terms` (the sites' `segmentation_terms`: "羊毛毯", "Lumen & Loom") are cut out first and kept
    whole, so jieba never splits a product name into pieces ("羊" / "毛毯")."""
    text = text.casefold()
    names = sorted({t.strip().casefold() for t in terms if t.strip()}, key=len, reverse=True)
    pieces = re.split("(" + "|".join(re.escape(n) for n in names) + ")", text) if names else [text]
    words = []
    for number, piece in enumerate(pieces):
        if number % 2:  # a name (re.split puts the separators at odd positions)
            words.append(piece)
            continue
        for word in _jieba().cut(piece):
            word = word.strip()
            if _HAN.search(word):
                if len(word) >= 2 and word not in _CHINESE_FUNCTION_WORDS:
                    words.append(word)
            elif len(word) >= 3 and word.isalpha():
                words.append(word)
    return words


def is_question(text: str) -> bool:
    """Whether a customer message says enough to belong to a topic: it has a word of three letters
    or more that is not small talk. "Hi", "thanks!", "ok thank you", "yes please" and an order
    number alone do not; "refund?" and "hi, where is my parcel" do. In Chinese, a word of its own
    that is not small talk: "你好", "谢谢你", "好的" do not; "运费多少钱" does."""
    if _HAN.search(text):
        return any(word not in CHINESE_SMALL_TALK for word in chinese_words(text))
    return any(len(word) >= 3 and word not in SMALL_TALK for word in _WORD.findall(text.casefold()))


def topic_vectors(
    texts: Sequence[str], embeddings: npt.ArrayLike, terms: Sequence[str] = ()
) -> npt.NDArray[np.float64]:
    """One row per text to cluster hot topics by: a Chinese text's is its words (`chinese_words`
    with the sites' `terms`; the window's 1,024 most frequent, unit length) in a block of columns of its own, any other
    text's its sentence embedding, in the first block. Texts of the two languages are orthogonal,
    so they are never in one topic."""
    dense = np.asarray(embeddings, dtype=np.float64)
    chinese = [i for i, text in enumerate(texts) if _HAN.search(text)]
    if not chinese:
        return dense
    # The most frequent words only: a hot topic is asked often, so its words are among them, and
    # the matrix stays small (rows x (embedding + CHINESE_WORDS_KEPT) at most).
    counter = CountVectorizer(
        analyzer=lambda text: chinese_words(text, terms), binary=True, max_features=CHINESE_WORDS_KEPT
    )
    try:
        counts = counter.fit_transform([texts[i] for i in chinese]).toarray().astype(np.float64)
    except ValueError:  # no Chinese text has a word of its own
        return dense
    rows = np.zeros((len(texts), dense.shape[1] + counts.shape[1]), dtype=np.float64)
    rows[:, : dense.shape[1]] = dense
    norms = np.linalg.norm(counts, axis=1)
    for row, position in enumerate(chinese):
        if norms[row] > 0:  # a text none of whose words are kept stays with its embedding
            rows[position, : dense.shape[1]] = 0.0
            rows[position, dense.shape[1] :] = counts[row] / norms[row]
    return rows


class Direction(StrEnum):
    NEW = "new"  # nothing in the previous window
    RISING = "rising"
    STEADY = "steady"
    FALLING = "falling"


@dataclass(frozen=True)
class Trend:
    direction: Direction
    change_percent: int | None  # (current - previous) / previous, in percent; None when previous is 0


# A topic rises or falls when its count changes by at least a fifth and by at least two
# questions: 1 -> 2 is +100% but says nothing, 40 -> 44 is four more but within the noise.
MIN_CHANGE = 0.2
MIN_DIFFERENCE = 2


def trend_of(
    current: int, previous: int, *, min_change: float = MIN_CHANGE, min_difference: int = MIN_DIFFERENCE
) -> Trend:
    """How a topic's count moved from the previous window to this one."""
    if current < 0 or previous < 0:
        raise ValueError(f"counts cannot be negative ({current}, {previous})")
    if previous == 0:
        return Trend(Direction.NEW if current > 0 else Direction.STEADY, None)
    change = (current - previous) / previous
    percent = round(change * 100)
    if abs(current - previous) < min_difference or abs(change) < min_change:
        return Trend(Direction.STEADY, percent)
    return Trend(Direction.RISING if change > 0 else Direction.FALLING, percent)


def assign_to_clusters(
    clustered: npt.ArrayLike,
    clusters: Sequence[Cluster],
    others: npt.ArrayLike,
    *,
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
) -> list[int | None]:
    """For each row of `others`, the index in `clusters` of the cluster it is nearest to, or None
    when it is not near enough to any.

    "Near" is the test the clustering itself merges by (average linkage): the mean cosine distance
    from the vector to the cluster's members must stay under `distance_threshold`. That mean is
    1 - x . c, where c is the (not re-normalised) mean of the members' unit vectors, so a loose
    cluster takes in less than a tight one whose normalised centroid is as close.
    `clustered` are the embeddings `clusters` were made from (one row per clustered text).
    """
    members = unit_rows(clustered)
    vectors = unit_rows(others)
    if len(vectors) == 0 or not clusters:
        return [None] * len(vectors)
    centroids = np.stack([members[list(cluster.members)].mean(axis=0) for cluster in clusters])
    similarity = vectors @ centroids.T  # mean cosine similarity to each cluster's members
    best = similarity.argmax(axis=1)
    distance = 1.0 - similarity[np.arange(len(vectors)), best]
    return [int(b) if d < distance_threshold else None for b, d in zip(best, distance, strict=True)]


@dataclass(frozen=True)
class Topic:
    """One hot topic. `representatives` index the window's texts: distinct texts, the most typical
    first (the first is the label). Counts are of the window and of the previous window of the same
    length; `daily` counts per day, the previous window's days first, then this window's."""

    label: str
    representatives: tuple[int, ...]
    count: int
    previous_count: int
    daily: tuple[int, ...]
    trend: Trend
    cohesion: float


def hot_topics(
    texts: Sequence[str],
    vectors: npt.ArrayLike,
    days: Sequence[int],
    previous_vectors: npt.ArrayLike,
    previous_days: Sequence[int],
    *,
    window_days: int,
    scale: float = 1.0,
    previous_scale: float = 1.0,
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
    min_size: int = 2,
    limit: int = 10,
    representatives: int = 3,
) -> list[Topic]:
    """The window's questions grouped by meaning, the largest groups first (rising ones first
    among equals), at most `limit`, each asked at least `min_size` times.

    `texts`, `vectors` and `days` describe the window's questions (day: 0 .. window_days - 1, the
    window's first day 0); `previous_vectors` and `previous_days` the previous window's, which are
    only counted, in the cluster they are nearest to (`assign_to_clusters`). When a window's
    questions are a sample, `scale` and `previous_scale` (all / sampled) turn the sample's counts
    into estimates of the whole window's, so two windows sampled at different rates still compare.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, not {window_days}")
    if len(days) != len(texts) or len(previous_days) != np.asarray(previous_vectors).shape[0]:
        raise ValueError("one day per question is needed, in both windows")
    for day in (*days, *previous_days):
        if not 0 <= day < window_days:
            raise ValueError(f"day {day} is outside the window's {window_days} days")
    if min(scale, previous_scale) < 1.0:
        raise ValueError("scale factors are all / sampled, at least 1")
    clustered = unit_rows(vectors, expected_rows=len(texts))
    clusters = cluster_texts(texts, clustered, distance_threshold=distance_threshold)
    placed = assign_to_clusters(clustered, clusters, previous_vectors, distance_threshold=distance_threshold)

    def scaled(n: int, factor: float) -> int:
        return round(n * factor)

    found: list[tuple[float, int, Topic]] = []
    for order, cluster in enumerate(clusters):
        if cluster.size < min_size:
            continue
        previous = [previous_days[i] for i, at in enumerate(placed) if at == order]
        current_daily = np.bincount([days[i] for i in cluster.members], minlength=window_days)
        previous_daily = np.bincount(np.asarray(previous, dtype=np.int64), minlength=window_days)
        count, previous_count = scaled(cluster.size, scale), scaled(len(previous), previous_scale)
        trend = trend_of(count, previous_count)
        growth = math.inf if previous_count == 0 else (count - previous_count) / previous_count
        topic = Topic(
            label=cluster.label,
            representatives=_distinct_members(texts, cluster, representatives),
            count=count,
            previous_count=previous_count,
            daily=tuple(scaled(int(n), previous_scale) for n in previous_daily)
            + tuple(scaled(int(n), scale) for n in current_daily),
            trend=trend,
            cohesion=cluster.cohesion,
        )
        found.append((growth, order, topic))
    found.sort(key=lambda item: (-item[2].count, -item[0], item[1]))
    return [topic for _, _, topic in found[:limit]]


def _distinct_members(texts: Sequence[str], cluster: Cluster, n: int) -> tuple[int, ...]:
    """The first `n` members with distinct texts (the indices behind `Cluster.representatives`)."""
    chosen: dict[str, int] = {}
    for index in cluster.members:
        chosen.setdefault(texts[index], index)
        if len(chosen) == n:
            break
    return tuple(chosen.values())
