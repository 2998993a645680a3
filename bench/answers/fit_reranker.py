"""Fit the hybrid retriever's default reranker weights, and measure the gate on a question set.

    .venv/bin/python bench/answers/fit_reranker.py [--train chatbot/knowledge/demo_faq_questions.json]
        [--measure bench/answers/demo_en_dev.json] [--c 1.0] [--model var/models/all-mpnet-base-v2]
    .venv/bin/python bench/answers/fit_reranker.py --language zh-hans \
        --train chatbot/knowledge/demo_faq_questions_zh.json --measure bench/answers/demo_zh_dev.json

Training questions: the demo shop's gate-tuning file (labelled paraphrases and off-topic questions)
plus the generic off-topic corpus as negatives. The held-out test split is never passed here.
Prints JSON: the weights (to paste into `intents.hybrid.DEFAULT_RERANKER`) and, with --measure, the
gate's outcome on that set at each threshold (no Django: the FAQ comes from the demo JSON file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from intents.embeddings import embedder_for_language  # noqa: E402
from intents.hybrid import FEATURES, HybridIndex, Reranker, encoder_name, off_topic_corpus  # noqa: E402
from intents.lexical import words_for  # noqa: E402
from intents.types import FaqDocument  # noqa: E402

DEMO_FAQS = {
    "en": ROOT / "chatbot" / "knowledge" / "demo_faq.json",
    "zh-hans": ROOT / "chatbot" / "knowledge" / "demo_faq_zh.json",
}


def labelled(path: Path, questions: dict[str, int]) -> tuple[list[tuple[str, set[int]]], list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    in_scope = [
        (item["text"], {questions[q] for q in (item.get("expect") or item["question"]).split("|")})
        for item in data["in_scope"]
    ]
    return in_scope, list(data["out_of_scope"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=ROOT / "chatbot" / "knowledge" / "demo_faq_questions.json")
    parser.add_argument("--measure", type=Path)
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--model", help="sentence-embedding model path or id (default: the bundled MiniLM)")
    parser.add_argument("--language", default="en", help="en or zh-hans: the FAQ, words and off-topic corpus")
    args = parser.parse_args()

    faq = json.loads(DEMO_FAQS[args.language].read_text(encoding="utf-8"))
    words = words_for(args.language)
    documents = [
        FaqDocument(i, e["question"], e["answer"], tuple(e.get("alternatives", []))) for i, e in enumerate(faq)
    ]
    questions = {e["question"]: i for i, e in enumerate(faq)}
    embedder = embedder_for_language(args.language, args.model)
    generic = off_topic_corpus(args.language)
    index = HybridIndex.build(documents, embedder, off_topic_vectors=embedder.encode(generic), words=words)

    train_in, train_oos = labelled(args.train, questions)
    texts = [t for t, _ in train_in] + train_oos + generic
    labels = [answer for _, answer in train_in] + [set()] * (len(train_oos) + len(generic))
    features, targets = index.training_rows(texts, embedder.encode([index.search_text(t) for t in texts]), labels)
    reranker = Reranker.fit(features, targets, c=args.c, encoder=encoder_name(embedder.model_name))
    report: dict[str, object] = {"features": list(FEATURES), "reranker": reranker.to_json()}

    if args.measure:
        index.reranker = reranker
        measure_in, measure_oos = labelled(args.measure, questions)
        texts = [t for t, _ in measure_in] + measure_oos
        vectors = embedder.encode([index.search_text(t) for t in texts])
        best, top, off = [], [], []
        for text, vector in zip(texts, vectors, strict=True):
            match = index.retrieve(text, vector, k=1)[0]
            best.append(match.score)
            top.append(match.document.id)
            off.append(index.off_topic_probability(vector) or 0.0)
        n = len(measure_in)
        right = np.array([top[k] in measure_in[k][1] for k in range(n)])
        rows_out = []
        for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            for oos in (0.5, 0.7, 0.8, 0.9, 1.01):
                answered = (np.array(best) >= threshold) & (np.array(off) < oos)
                rows_out.append(
                    {
                        "threshold": threshold,
                        "oos_probability": oos,
                        "answered_right": round(float(np.mean(answered[:n] & right)), 3),
                        "answered_wrong": round(float(np.mean(answered[:n] & ~right)), 3),
                        "off_topic_refused": round(float(np.mean(~answered[n:])), 3),
                    }
                )
        report["measure"] = {"file": str(args.measure), "top1": round(float(right.mean()), 3), "gate": rows_out}
        report["wrong"] = [
            [measure_in[k][0], faq[top[k]]["question"], round(best[k], 2)] for k in range(n) if not right[k]
        ]
        report["off_topic_answered"] = [
            [texts[k], faq[top[k]]["question"], round(best[k], 2), round(off[k], 2)]
            for k in range(n, len(texts))
            if best[k] >= 0.5
        ]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
