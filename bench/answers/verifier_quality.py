"""Precision and recall of the verifier on labelled generated sentences.

    .venv/bin/python bench/answers/verifier_quality.py [--data bench/answers/verifier_sentences.jsonl]
        [--no-embedder]

Each line of the data is a sentence SmolLM2 wrote for a customer question with an FAQ passage,
labelled by reading it: `supported` or `unsupported` (see README.md). The positive class is
"unsupported": precision is the share of the sentences the verifier drops that were wrong to
show; recall is the share of the wrong sentences it drops. Prints JSON per split (dev was used to
tune the rules; test was not), with the errors of each kind.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from intents.embeddings import SentenceTransformerEmbedder  # noqa: E402
from intents.generation.verifier import Passage, Verifier  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "answers" / "verifier_sentences.jsonl")
    parser.add_argument("--no-embedder", action="store_true", help="rules only, without the embedding check")
    parser.add_argument("--errors", type=int, default=15, help="examples of each error kind to print")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    verifier = Verifier(embedder=None if args.no_embedder else SentenceTransformerEmbedder.load())
    report: dict[str, Any] = {"data": str(args.data), "embedder": not args.no_embedder}
    for split in sorted({row["split"] for row in rows}):
        counts: Counter[str] = Counter()
        missed: list[dict[str, str]] = []
        false_alarms: list[dict[str, str]] = []
        for row in (r for r in rows if r["split"] == split):
            passage = Passage(row["question"], row["faq_question"], row["passage"], known_words=["Lumen & Loom"])
            verdict = verifier.check(row["sentence"], passage)
            wrong = row["label"] == "unsupported"
            dropped = not verdict.supported
            counts[f"{'t' if wrong == dropped else 'f'}{'p' if dropped else 'n'}"] += 1
            if wrong and not dropped:
                missed.append({"sentence": row["sentence"], "kind": row.get("kind", ""), "why": row.get("reason", "")})
            if dropped and not wrong:
                false_alarms.append({"sentence": row["sentence"], "verifier": verdict.reason})
        tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
        report[split] = {
            "sentences": tp + fp + fn + tn,
            "unsupported": tp + fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "kept_supported": round(tn / (tn + fp), 3) if tn + fp else None,
            "confusion": {
                "dropped_unsupported": tp,
                "dropped_supported": fp,
                "kept_unsupported": fn,
                "kept_supported": tn,
            },
            "kept_unsupported_examples": missed[: args.errors],
            "dropped_supported_examples": false_alarms[: args.errors],
        }
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
