"""Retrieval quality of the FAQ answerer on held-out paraphrases, and the answer threshold sweep.

    python bench/faq_retrieval.py [--faq chatbot/knowledge/demo_faq.json]
                                  [--eval chatbot/knowledge/demo_faq_questions.json]

Prints one JSON object: top-1/top-3 accuracy on in-scope questions and, per threshold, the share
of in-scope questions answered correctly and of out-of-scope questions refused (handed to a human).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intents.embeddings import SentenceTransformerEmbedder  # noqa: E402
from intents.retrieval import FaqIndex  # noqa: E402
from intents.types import FaqDocument  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faq", type=Path, default=ROOT / "chatbot/knowledge/demo_faq.json")
    parser.add_argument("--eval", type=Path, default=ROOT / "chatbot/knowledge/demo_faq_questions.json")
    args = parser.parse_args()

    faq = json.loads(args.faq.read_text())
    data = json.loads(args.eval.read_text())
    documents = [
        FaqDocument(i, e["question"], e["answer"], tuple(e.get("alternatives", []))) for i, e in enumerate(faq)
    ]
    by_question = {d.question: d.id for d in documents}
    embedder = SentenceTransformerEmbedder.load()
    index = FaqIndex.build(documents, embedder)

    started = time.perf_counter()
    in_scope = [
        (index.search(embedder.encode([q["text"]])[0], k=3), {by_question[n] for n in q["question"].split("|")})
        for q in data["in_scope"]
    ]
    oos = [index.search(embedder.encode([text])[0], k=1)[0].score for text in data["out_of_scope"]]
    per_query_ms = (time.perf_counter() - started) * 1000 / (len(in_scope) + len(oos))

    sweep = []
    for threshold in [x / 100 for x in range(30, 76, 5)]:
        answered_right = sum(m[0].document.id in want and m[0].score >= threshold for m, want in in_scope)
        answered_wrong = sum(m[0].document.id not in want and m[0].score >= threshold for m, want in in_scope)
        refused = sum(score < threshold for score in oos)
        sweep.append(
            {
                "threshold": threshold,
                "in_scope_answered_correctly": round(answered_right / len(in_scope), 4),
                "in_scope_answered_wrongly": round(answered_wrong / len(in_scope), 4),
                "out_of_scope_refused": round(refused / len(oos), 4),
            }
        )
    print(
        json.dumps(
            {
                "faq_entries": len(documents),
                "in_scope_questions": len(in_scope),
                "out_of_scope_questions": len(oos),
                "top1_accuracy": round(sum(m[0].document.id in want for m, want in in_scope) / len(in_scope), 4),
                "top3_accuracy": round(
                    sum(any(x.document.id in want for x in m) for m, want in in_scope) / len(in_scope), 4
                ),
                "ms_per_query": round(per_query_ms, 2),
                "threshold_sweep": sweep,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
