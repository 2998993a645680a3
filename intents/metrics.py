"""Scores of an intent classifier, as `python manage.py intents evaluate --json` prints them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from intents.datasets import OUT_OF_SCOPE


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 15) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by size."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if not len(conf):
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(conf[mask].mean() - hit[mask].mean())
    return float(error)


def intent_scores(
    gold: Sequence[str], predicted: Sequence[str], confidences: Sequence[float], latencies_ms: Sequence[float]
) -> dict[str, float]:
    """accuracy and macro-F1 over every example (out-of-scope counts as one more label); for data
    with out-of-scope examples also in-scope accuracy and out-of-scope recall and precision;
    expected calibration error of the confidences; latency percentiles."""
    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    correct = gold_a == pred_a
    scores: dict[str, float] = {
        "examples": float(len(gold_a)),
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(gold_a, pred_a, average="macro", zero_division=0)),
        "ece": expected_calibration_error(confidences, correct.tolist()),
    }
    oos_gold = gold_a == OUT_OF_SCOPE
    if oos_gold.any():
        oos_pred = pred_a == OUT_OF_SCOPE
        scores["in_scope_accuracy"] = float(correct[~oos_gold].mean())
        scores["oos_recall"] = float(oos_pred[oos_gold].mean())
        scores["oos_precision"] = float(oos_gold[oos_pred].mean()) if oos_pred.any() else 0.0
    if len(latencies_ms):
        scores["ms_per_query_p50"] = float(np.percentile(latencies_ms, 50))
        scores["ms_per_query_p99"] = float(np.percentile(latencies_ms, 99))
    return {k: round(v, 4) for k, v in scores.items()}
