"""How well a category model does against labelled complaints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.metrics import f1_score


def category_scores(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> dict[str, float]:
    """accuracy, macro-F1 over `labels` (a prediction outside them counts as wrong) and F1 of each."""
    labels = list(labels)
    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    scores = {
        "examples": float(len(gold_a)),
        "accuracy": float((gold_a == pred_a).mean()) if len(gold_a) else 0.0,
        "macro_f1": float(f1_score(gold_a, pred_a, labels=labels, average="macro", zero_division=0)),
    }
    per_label = f1_score(gold_a, pred_a, labels=labels, average=None, zero_division=0)
    for label, value in zip(labels, per_label, strict=True):
        scores[f"f1_{label}"] = float(value)
    return {k: round(v, 4) for k, v in scores.items()}
