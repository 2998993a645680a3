"""The retrieval answerer: index mechanics with a deterministic fake embedder, and quality of the
real bundled MiniLM model on held-out paraphrases of the demo FAQ."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from intents.embeddings import SentenceTransformerEmbedder, Vectors
from intents.gate import GatePolicy
from intents.retrieval import NOT_SURE_TEXT, FaqIndex, RetrievalResponder
from intents.streaming import split_for_streaming
from intents.types import Answer, FaqDocument, Turn

ROOT = Path(__file__).resolve().parents[2]


class KeywordEmbedder:
    """One dimension per keyword; a text's vector counts the keywords it contains."""

    model_name = "keywords"

    def __init__(self, keywords: Sequence[str]) -> None:
        self.keywords = list(keywords)
        self.dimension = len(self.keywords)

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = np.array([[float(k in t.lower()) for k in self.keywords] for t in texts], dtype=np.float32)
        rows = rows.reshape(len(texts), self.dimension)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


DOCS = [
    FaqDocument(1, "How long is delivery?", "Two to four days.", ("when will my parcel arrive",)),
    FaqDocument(2, "Can I return an item?", "Yes, within 30 days.", ("refund please",)),
]
EMBEDDER = KeywordEmbedder(["delivery", "parcel", "return", "refund", "weather"])


def test_an_entry_scores_by_its_best_matching_phrasing() -> None:
    index = FaqIndex.build(DOCS, EMBEDDER)
    matches = index.search(EMBEDDER.encode(["where is my parcel"])[0], k=2)
    assert matches[0].document.id == 1
    assert matches[0].score == pytest.approx(1.0)
    assert matches[1].score == pytest.approx(0.0)


def test_an_empty_index_finds_nothing() -> None:
    assert FaqIndex.build([], EMBEDDER).search(EMBEDDER.encode(["refund"])[0]) == []


def test_streamed_pieces_join_back_to_the_exact_text() -> None:
    text = "Hello  there,\nfriend! <b>ok</b> "
    assert "".join(split_for_streaming(text)) == text
    assert len(split_for_streaming(text)) > 3


def test_the_responder_streams_the_answer_then_returns_it_with_its_source() -> None:
    responder = RetrievalResponder(EMBEDDER, FaqIndex.build(DOCS, EMBEDDER), policy=GatePolicy(answer_threshold=0.5))
    pieces = list(responder.answer([Turn("customer", "I want a refund")]))
    final = pieces[-1]
    assert isinstance(final, Answer)
    assert "".join(p for p in pieces[:-1] if isinstance(p, str)) == final.text == "Yes, within 30 days."
    assert [s.id for s in final.sources] == [2]
    assert not final.handoff


def test_below_the_threshold_the_responder_offers_a_human_and_cites_nothing() -> None:
    responder = RetrievalResponder(EMBEDDER, FaqIndex.build(DOCS, EMBEDDER), policy=GatePolicy(answer_threshold=0.5))
    final = list(responder.answer([Turn("customer", "what's the weather like")]))[-1]
    assert isinstance(final, Answer)
    assert final.text == NOT_SURE_TEXT
    assert final.handoff
    assert final.sources == ()


def test_the_responder_answers_the_latest_customer_turn() -> None:
    responder = RetrievalResponder(EMBEDDER, FaqIndex.build(DOCS, EMBEDDER), policy=GatePolicy(answer_threshold=0.5))
    history = [Turn("customer", "refund"), Turn("bot", "Yes, within 30 days."), Turn("customer", "delivery?")]
    final = list(responder.answer(history))[-1]
    assert isinstance(final, Answer)
    assert final.sources[0].id == 1


@pytest.mark.slow
def test_the_bundled_minilm_finds_the_right_entry_for_held_out_paraphrases() -> None:
    """Regression floor for the real model (measured in stop 33: top-1 0.86, top-3 0.94, 80% of the
    generic off-topic questions below a cosine of 0.5). The FAQ holds 1,628 phrasings since stop 33,
    so an off-topic question finds a closer one than it did among 964 (67% below 0.45, against 77%)."""
    faq = json.loads((ROOT / "chatbot/knowledge/demo_faq.json").read_text())
    data = json.loads((ROOT / "chatbot/knowledge/demo_faq_questions.json").read_text())
    documents = [FaqDocument(i, e["question"], e["answer"], tuple(e["alternatives"])) for i, e in enumerate(faq)]
    wanted = {d.question: d.id for d in documents}
    embedder = SentenceTransformerEmbedder.load()
    assert embedder.dimension == 384
    index = FaqIndex.build(documents, embedder)

    queries = embedder.encode([q["text"] for q in data["in_scope"]])
    results = [index.search(vector, k=3) for vector in queries]
    answers = [{wanted[name] for name in q["question"].split("|")} for q in data["in_scope"]]
    top1 = np.mean([r[0].document.id in right for r, right in zip(results, answers, strict=True)])
    top3 = np.mean([any(m.document.id in right for m in r) for r, right in zip(results, answers, strict=True)])
    # The first 30 are generic off-topic questions; the near misses after them ("do you sell
    # mattresses?") are for the hybrid gate, which tests/replies and the answer evaluation measure.
    off_topic = [index.search(v, k=1)[0].score for v in embedder.encode(data["out_of_scope"][:30])]
    refused = np.mean([score < 0.5 for score in off_topic])

    assert top1 >= 0.80
    assert top3 >= 0.90
    assert refused >= 0.75
