"""How well a sentiment scorer does on labelled examples, and the baselines a model must beat."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from intents.sentiment.datasets import SentimentExample
from intents.sentiment.scorers import LABELS, SentimentScorer


def sentiment_scores(gold: Sequence[str], predicted: Sequence[str], latencies_ms: Sequence[float]) -> dict[str, float]:
    """accuracy, macro-F1 and F1 of each label over every example; latency percentiles."""
    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    per_label = f1_score(gold_a, pred_a, labels=list(LABELS), average=None, zero_division=0)
    scores: dict[str, float] = {
        "examples": float(len(gold_a)),
        "accuracy": float((gold_a == pred_a).mean()) if len(gold_a) else 0.0,
        "macro_f1": float(f1_score(gold_a, pred_a, labels=list(LABELS), average="macro", zero_division=0)),
    }
    for label, value in zip(LABELS, per_label, strict=True):
        scores[f"f1_{label}"] = float(value)
    if len(latencies_ms):
        scores["ms_per_query_p50"] = float(np.percentile(latencies_ms, 50))
        scores["ms_per_query_p99"] = float(np.percentile(latencies_ms, 99))
    return {k: round(v, 4) for k, v in scores.items()}


def evaluate_sentiment_scorer(
    scorer: SentimentScorer, examples: Sequence[SentimentExample], *, timed: bool = True
) -> dict[str, float]:
    """Quality on every example; with `timed`, one text at a time (as in serving) with latencies."""
    texts = [e.text for e in examples]
    latencies: list[float] = []
    if timed:
        predicted = []
        for text in texts:
            started = time.perf_counter()
            predicted.append(scorer.score([text])[0].label)
            latencies.append((time.perf_counter() - started) * 1000)
    else:
        predicted = [s.label for s in scorer.score(texts)]
    return sentiment_scores([e.label for e in examples], predicted, latencies)


def embedding_logistic_baseline(
    train: Sequence[SentimentExample], validation: Sequence[SentimentExample], embedder: Any
) -> dict[str, float]:
    """The MiniLM-embeddings + logistic-regression baseline: frozen sentence embeddings of the
    raw texts, scikit-learn's default regularisation, trained on `train`, scored on `validation`."""
    classifier = LogisticRegression(max_iter=2000)
    classifier.fit(embedder.encode([e.text for e in train]), [e.label for e in train])
    predicted = classifier.predict(embedder.encode([e.text for e in validation]))
    return sentiment_scores([e.label for e in validation], [str(p) for p in predicted], [])
