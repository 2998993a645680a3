"""Complaint categories on the airline data: zero-training prototypes against a trained head.

    python bench/complaints.py [--data ../shared/datasets/airline_sentiment/train.csv]
                               [--test-fraction 0.2] [--seed 13] [--c 0.5,2,8]

The negative tweets with a `negativereason` are mapped onto the complaint taxonomy
(intents.complaints.training.AIRLINE_REASONS; "Can't Tell" dropped), split by category into a training
part and a held-out part (`--test-fraction`, stratified, fixed `--seed`), and both category
models are measured on the same held-out part, in one run:

- `prototypes`: the bundled taxonomy's centroids, no training, choosing among all 13 categories
  (so a delay complaint called `waiting_time` or `other` counts as wrong), and the same model
  restricted to the 7 categories the airline data uses;
- `trained_head`: a logistic-regression head on the training part (its C picked by 5-fold
  cross-validated macro-F1 on the training part alone), which knows only those 7.

Also: the share of the "Can't Tell" tweets the prototypes call `other`, and how well complaint
detection (VADER's label plus the complaint cues) picks out the negative tweets among all tweets
of a held-out part of the file. The held-out parts are development figures (the data set keeps
its own test split elsewhere). Prints one JSON object; progress on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from intents.complaints.cues import is_complaint  # noqa: E402
from intents.complaints.metrics import category_scores  # noqa: E402
from intents.complaints.models import LogisticCategoryModel, PrototypeCategoryModel, prepare_text  # noqa: E402
from intents.complaints.taxonomy import CATEGORIES, OTHER  # noqa: E402
from intents.complaints.training import AIRLINE_REASONS, load_airline_complaints  # noqa: E402
from intents.datasets import stratified_split  # noqa: E402
from intents.embeddings import SentenceTransformerEmbedder  # noqa: E402
from intents.sentiment.scorers import LexiconSentimentScorer  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "airline_sentiment" / "train.csv"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pick_c(vectors: np.ndarray, labels: list[str], candidates: list[float], seed: int) -> dict[str, float]:
    """Cross-validated macro-F1 of the head for each C, on the training part only."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    gold = np.asarray(labels)
    airline = sorted(set(AIRLINE_REASONS.values()))
    results = {}
    for c in candidates:
        predicted = np.empty(len(gold), dtype=object)
        for train_rows, test_rows in folds.split(vectors, gold):
            head = LogisticCategoryModel.fit(vectors[train_rows], list(gold[train_rows]), c=c)
            predicted[test_rows] = [p.category for p in head.predict(vectors[test_rows])]
        results[str(c)] = category_scores(list(gold), list(predicted), airline)["macro_f1"]
    return results


def detection_scores(path: Path, fraction: float, seed: int) -> dict[str, float]:
    """Complaint detection against the tweets' negative label, on a held-out part of all tweets."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(r["text"], r.get("sentiment") or r["airline_sentiment"]) for r in csv.DictReader(handle)]
    _, held = stratified_split(rows, fraction, seed, key=lambda row: row[1])
    scores = LexiconSentimentScorer().score([text for text, _ in held])
    predicted = np.asarray([is_complaint(text, s.label) for (text, _), s in zip(held, scores, strict=True)])
    gold = np.asarray([label == "negative" for _, label in held])
    true_positive = float((predicted & gold).sum())
    precision = true_positive / max(float(predicted.sum()), 1.0)
    recall = true_positive / max(float(gold.sum()), 1.0)
    return {
        "tweets": float(len(held)),
        "negative": float(gold.sum()),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4),
        "vader_label_alone_recall": round(
            float(sum(s.label == "negative" for s, g in zip(scores, gold, strict=True) if g)) / max(gold.sum(), 1), 4
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--c", default="0.5,2,8", help="the head's C values to cross-validate")
    args = parser.parse_args()

    examples = load_airline_complaints(args.data)
    unplaced = load_airline_complaints(args.data, unplaced=True)
    train, test = stratified_split(examples, args.test_fraction, args.seed, key=lambda e: e.category)
    airline = sorted(set(AIRLINE_REASONS.values()))
    log(f"{len(examples)} complaints: {len(train)} to train the head, {len(test)} held out")

    embedder = SentenceTransformerEmbedder.load()
    started = time.perf_counter()
    texts = [prepare_text(e.text) for e in (*train, *test, *unplaced)]
    vectors = embedder.encode(texts)
    embed_s = time.perf_counter() - started
    log(f"embedded {len(texts)} texts in {embed_s:.1f} s")
    train_v, test_v = vectors[: len(train)], vectors[len(train) : len(train) + len(test)]
    unplaced_v = vectors[len(train) + len(test) :]
    gold = [e.category for e in test]

    prototypes = PrototypeCategoryModel.from_taxonomy(embedder)
    full = [p.category for p in prototypes.predict(test_v)]
    restricted = [p.category for p in prototypes.predict(test_v, among=airline)]

    candidates = [float(c) for c in args.c.split(",")]
    cv = pick_c(train_v, [e.category for e in train], candidates, args.seed)
    best_c = float(max(cv, key=lambda c: cv[c]))
    log(f"head: cross-validated macro-F1 by C {cv}; using C={best_c}")
    started = time.perf_counter()
    head = LogisticCategoryModel.fit(train_v, [e.category for e in train], c=best_c)
    train_s = time.perf_counter() - started
    trained = [p.category for p in head.predict(test_v)]

    categories = {name: sum(e.category == name for e in examples) for name in airline}
    print(
        json.dumps(
            {
                "data": str(args.data),
                "mapping": AIRLINE_REASONS,
                "complaints": len(examples),
                "by_category": categories,
                "train": len(train),
                "held_out": len(test),
                "seed": args.seed,
                "embedding_model": embedder.model_name,
                "embed_seconds": round(embed_s, 1),
                "prototypes_all_categories": {
                    "categories": len(CATEGORIES),
                    **category_scores(gold, full, airline),
                    "predicted_outside_airline_categories": round(sum(p not in airline for p in full) / len(full), 4),
                    "predicted_other": round(sum(p == OTHER for p in full) / len(full), 4),
                },
                "prototypes_airline_categories": {
                    "categories": len(airline),
                    **category_scores(gold, restricted, airline),
                },
                "trained_head": {
                    "categories": len(airline),
                    "c": best_c,
                    "cv_macro_f1_by_c": cv,
                    "train_seconds": round(train_s, 2),
                    **category_scores(gold, trained, airline),
                },
                "cant_tell_called_other_by_prototypes": round(
                    sum(p.category == OTHER for p in prototypes.predict(unplaced_v)) / max(len(unplaced), 1), 4
                ),
                "cant_tell_tweets": len(unplaced),
                "detection_vs_negative_label": detection_scores(args.data, args.test_fraction, args.seed),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
