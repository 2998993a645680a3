"""Chinese sentiment and complaints on Chinese customer messages written and labelled for it.

    python bench/sentiment_zh.py [--test bench/sentiment/zh_messages.jsonl] [--dev bench/sentiment/zh_dev.jsonl]

`zh_messages.jsonl` (214 messages) is the held-out set; `zh_dev.jsonl` (65) is the one the cue
lexicon of `intents.sentiment.chinese` and `intents.complaints.chinese` was tuned on. Each line:
{"text", "label": negative|neutral|positive, "complaint": a taxonomy category, "" for none}.

Prints one JSON object:
- `scorer`: the product's Chinese scorer (SnowNLP + cues) on the test set: macro-F1, per-label F1,
  latency per message on one thread;
- `snownlp_band`: SnowNLP alone, neutral between two cut-offs fitted on the dev set (the best
  macro-F1 there over a 0.05 grid), on the test set: what the library gives by itself;
- `vader`: the English fallback (VADER) on the same Chinese texts, for scale;
- `complaints`: complaint detection (`is_complaint` with the scorer's label) against the messages
  labelled with a category, and the category (`chinese_category`) of the labelled complaints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intents.complaints.chinese import chinese_category  # noqa: E402
from intents.complaints.cues import is_complaint  # noqa: E402
from intents.complaints.metrics import category_scores  # noqa: E402
from intents.complaints.taxonomy import CATEGORIES  # noqa: E402
from intents.sentiment.chinese import ChineseSentimentScorer  # noqa: E402
from intents.sentiment.datasets import SentimentExample  # noqa: E402
from intents.sentiment.evaluation import evaluate_sentiment_scorer, sentiment_scores  # noqa: E402
from intents.sentiment.scorers import LexiconSentimentScorer  # noqa: E402


def read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def band_label(p: float, low: float, high: float) -> str:
    return "negative" if p <= low else "positive" if p >= high else "neutral"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", type=Path, default=ROOT / "bench" / "sentiment" / "zh_messages.jsonl")
    parser.add_argument("--dev", type=Path, default=ROOT / "bench" / "sentiment" / "zh_dev.jsonl")
    args = parser.parse_args()
    test, dev = read(args.test), read(args.dev)
    examples = [SentimentExample(row["text"], row["label"]) for row in test]
    scorer = ChineseSentimentScorer()
    report: dict[str, object] = {"test_file": str(args.test), "test_messages": len(test)}
    report["scorer"] = evaluate_sentiment_scorer(scorer, examples)

    # SnowNLP alone: the neutral band that does best on the dev set, applied to the test set.
    dev_p = [scorer.positive_probability(row["text"]) for row in dev]
    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    low, high = max(
        ((lo, hi) for lo in grid for hi in grid if lo < hi),
        key=lambda band: sentiment_scores([row["label"] for row in dev], [band_label(p, *band) for p in dev_p], [])[
            "macro_f1"
        ],
    )
    test_p = [scorer.positive_probability(row["text"]) for row in test]
    band = sentiment_scores([row["label"] for row in test], [band_label(p, low, high) for p in test_p], [])
    report["snownlp_band"] = {"neutral_between": [low, high], **band}
    report["vader"] = evaluate_sentiment_scorer(LexiconSentimentScorer(), examples, timed=False)

    labels = [result.label for result in scorer.score([row["text"] for row in test])]
    flagged = [is_complaint(row["text"], label) for row, label in zip(test, labels, strict=True)]
    truth = [bool(row["complaint"]) for row in test]
    hits = sum(f and t for f, t in zip(flagged, truth, strict=True))
    complaints = [row for row in test if row["complaint"]]
    categories = category_scores(
        [row["complaint"] for row in complaints], [chinese_category(row["text"])[0] for row in complaints], CATEGORIES
    )
    report["complaints"] = {
        "detection_precision": round(hits / max(1, sum(flagged)), 4),
        "detection_recall": round(hits / max(1, sum(truth)), 4),
        "category_accuracy": categories["accuracy"],
        "category_macro_f1_present": round(
            sum(categories[f"f1_{c}"] for c in {row["complaint"] for row in complaints})
            / len({row["complaint"] for row in complaints}),
            4,
        ),
        "categories_labelled": len(complaints),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
