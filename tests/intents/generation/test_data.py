"""Dialogue training data: the shared Bitext CSV, JSON lines files, the stable held-out split, and
the FAQ built from the rows."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from intents.embeddings import Vectors
from intents.generation.data import (
    QA,
    DialogueDataError,
    DialogueExample,
    attach_passages,
    faq_examples,
    faq_from_rows,
    file_manifest,
    grounded_targets,
    is_held_out,
    load_rows,
    split,
)
from intents.generation.verifier import Passage, Verifier
from intents.retrieval import FaqIndex
from intents.types import FaqDocument
from tests.intents.generation.conftest import SHOP_FAQ, HashingEmbedder
from tests.support.datasets import SHARED_DATASETS

BITEXT = SHARED_DATASETS / "bitext_customer_support" / "train.csv"


@pytest.fixture(scope="module")
def bitext_rows() -> list[QA]:
    if not BITEXT.is_file():
        pytest.skip(f"the shared Bitext dataset is not at {BITEXT}")
    return load_rows(BITEXT, "bitext")


def test_the_shared_bitext_file_gives_4014_rows_of_27_intents(bitext_rows: list[QA]) -> None:
    assert len(bitext_rows) == 4014
    assert len({row.intent for row in bitext_rows}) == 27
    assert all(row.question and row.answer and row.intent and not row.passages for row in bitext_rows)


def test_the_held_out_split_is_disjoint_about_a_tenth_and_independent_of_file_order(bitext_rows: list[QA]) -> None:
    train, held = split(bitext_rows, 0.1)
    assert len(train) + len(held) == len(bitext_rows)
    assert not {row.question for row in train} & {row.question for row in held}
    assert 0.08 < len(held) / len(bitext_rows) < 0.12

    again_train, again_held = split(list(reversed(bitext_rows)), 0.1)
    assert {row.question for row in again_held} == {row.question for row in held}
    assert {row.question for row in again_train} == {row.question for row in train}
    _, other_seed = split(bitext_rows, 0.1, seed=1)
    assert {row.question for row in other_seed} != {row.question for row in held}


def test_a_question_is_held_out_whatever_its_case_and_surrounding_spaces() -> None:
    question = next(q for q in (f"where is order {n}?" for n in range(1000)) if is_held_out(q, 0.1))
    assert is_held_out(f"  {question.upper()} ", 0.1)
    assert not is_held_out(question, 0.0)
    assert is_held_out(question, 1.0)


def test_faq_from_rows_gives_one_entry_per_intent(bitext_rows: list[QA]) -> None:
    faq = faq_from_rows(bitext_rows, HashingEmbedder())
    assert [doc.id for doc in faq] == list(range(1, 28))
    intents = sorted({row.intent for row in bitext_rows})
    by_question = {row.question: row for row in bitext_rows}
    for doc, intent in zip(faq, intents, strict=True):
        row = by_question[doc.question]
        assert (row.intent, row.answer) == (intent, doc.answer)
        assert 0 < len(doc.alternatives) <= 40
        assert doc.question not in doc.alternatives
        assert all(by_question[phrasing].intent == intent for phrasing in doc.alternatives)


def test_the_entry_of_an_intent_is_the_row_nearest_its_centroid() -> None:
    rows = [
        QA("track my parcel", "a1", "track"),
        QA("track my parcel please now", "a2", "track"),
        QA("weather", "a3", "track"),  # the outlier is never the entry
        QA("refund", "r1"),
    ]
    faq = faq_from_rows(rows, HashingEmbedder(), max_phrasings=1)
    assert [(doc.id, doc.question, doc.answer) for doc in faq] == [(1, "refund", "r1"), (2, "track my parcel", "a1")]
    assert faq[1].alternatives == ("track my parcel please now",)


def _write_jsonl(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_jsonl_file_gives_rows_with_their_passages(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "dialogue.jsonl",
        json.dumps(
            {
                "question": " Can I return it? ",
                "answer": "Yes, within 30 days.",
                "passages": [
                    {"question": "Returns?", "answer": "30 days."},
                    {"question": "Refunds?", "answer": "5 days."},
                ],
            }
        ),
        "",
        json.dumps({"question": "Shipping?", "answer": "4.95 EUR.", "intent": "ignored"}),
    )
    rows = load_rows(path, "jsonl")
    assert rows == [
        QA(
            "Can I return it?",
            "Yes, within 30 days.",
            "",
            (FaqDocument(-1, "Returns?", "30 days."), FaqDocument(-2, "Refunds?", "5 days.")),
        ),
        QA("Shipping?", "4.95 EUR."),
    ]


@pytest.mark.parametrize(
    "bad_line",
    [
        "{not json",
        json.dumps({"question": "no answer"}),
        json.dumps(["question", "answer"]),
        json.dumps({"question": "q", "answer": "a", "passages": [{"question": "no answer"}]}),
        json.dumps({"question": "q", "answer": "a", "passages": "not a list"}),
    ],
)
def test_a_bad_jsonl_line_is_reported_with_its_line_number(tmp_path: Path, bad_line: str) -> None:
    path = _write_jsonl(tmp_path / "bad.jsonl", json.dumps({"question": "q", "answer": "a"}), bad_line)
    with pytest.raises(DialogueDataError, match=r"bad\.jsonl:2: expected an object with question and answer"):
        load_rows(path, "jsonl")


def test_files_that_cannot_be_read_as_their_format_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(DialogueDataError, match="unknown format 'csv'; use one of bitext, jsonl"):
        load_rows(tmp_path, "csv")
    with pytest.raises(DialogueDataError, match="is not a file"):
        load_rows(tmp_path / "missing.jsonl", "jsonl")
    with pytest.raises(DialogueDataError, match="no examples"):
        load_rows(_write_jsonl(tmp_path / "empty.jsonl", ""), "jsonl")
    not_bitext = tmp_path / "faq.csv"
    not_bitext.write_text("question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(DialogueDataError, match="missing columns instruction, intent, response"):
        load_rows(not_bitext, "bitext")
    blank = tmp_path / "blank.csv"
    blank.write_text("instruction,intent,response\n ,cancel_order,answer\nquestion,cancel_order, \n", encoding="utf-8")
    with pytest.raises(DialogueDataError, match="no rows with an instruction and a response"):
        load_rows(blank, "bitext")


def test_rows_without_passages_get_the_entry_retrieval_finds() -> None:
    embedder = HashingEmbedder()
    own = (FaqDocument(-1, "Own passage", "Brought along."),)
    rows = [QA("How much is shipping?", "4.95 EUR."), QA("Anything", "Yes.", "", own)]
    examples = attach_passages(rows, FaqIndex.build(SHOP_FAQ, embedder), embedder)
    assert [(e.question, e.passages, e.answer) for e in examples] == [
        ("How much is shipping?", (SHOP_FAQ[2],), "4.95 EUR."),
        ("Anything", own, "Yes."),
    ]


def test_the_manifest_names_the_file_and_its_checksum(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", json.dumps({"question": "q", "answer": "a"}))
    manifest = file_manifest(path, "jsonl", 1, {"held_out": 0.1})
    assert manifest == {
        "file": str(path.resolve()),
        "format": "jsonl",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows_used": 1,
        "held_out": 0.1,
    }


def test_training_targets_keep_only_what_their_passage_supports() -> None:
    passage = (FaqDocument(1, "How do I track my order?", "Open Orders in your account and choose Track."),)
    clean = DialogueExample("where is my parcel", passage, "Open Orders in your account and choose Track.")
    placeholder = DialogueExample(
        "track order",
        passage,
        "Open Orders in your account and choose Track to follow your parcel. Call {{Customer Support Phone Number}}.",
    )
    invented_deadline = DialogueExample("when will it come", passage, "It arrives within 3 days.")

    kept, counts = grounded_targets([clean, placeholder, invented_deadline])

    assert counts == {"unchanged": 1, "trimmed": 1, "left_out": 1}
    assert [example.answer for example in kept] == [
        "Open Orders in your account and choose Track.",
        "Open Orders in your account and choose Track to follow your parcel.",
    ]


ORDERS_FAQ = (
    FaqDocument(
        1,
        "Can I add items to my order?",
        "We can't add items to an order once it has been placed, but you can place a second order. "
        "Orders leave our warehouse within 2 business days.",
        (
            "Can you add items to an order I placed?",
            "add a throw to my order",
            "can I add items to my order?  ",
            "wrong size ordered",
        ),
    ),
    FaqDocument(
        2,
        "Do you offer express delivery?",
        "Yes, express delivery costs €12.95 and arrives the next business day. Express is not available for furniture.",
        ("express delivery price", "next day delivery cost", "wrong size ordered", "fast shipping"),
    ),
    FaqDocument(
        3,
        "Do you ship outside the EU?",
        "Unfortunately we only ship within the EU. Orders to other countries are cancelled and refunded.",
        ("international shipping", "delivery to the US"),
    ),
)


@pytest.mark.parametrize("embedder", [None, HashingEmbedder()], ids=["word-overlap", "embedder"])
def test_faq_examples_answer_each_alternative_phrasing_with_verified_sentences_of_its_entry(
    embedder: HashingEmbedder | None,
) -> None:
    verifier = Verifier(embedder=embedder)
    built = faq_examples(ORDERS_FAQ, verifier, held_out_fraction=0.1)

    faq_questions = {doc.question.lower() for doc in ORDERS_FAQ}
    trained = [example.question for example in built.train]
    assert not faq_questions & {q.lower() for q in trained + [e.question for e in built.held_out]}
    assert "wrong size ordered" not in trained  # two entries share it: ambiguous
    for example in built.train:
        (document,) = example.passages
        assert example.question in document.alternatives
        passage = Passage(example.question, document.question, document.answer)
        for sentence in re.split(r"(?<=[.!?])\s+", example.answer):
            assert verifier.check(sentence, passage).supported, (example.question, sentence)
    answers = {example.question: example.answer for example in built.train}
    # A yes/no question the entry answers "no" gets the verified lead-in; the FAQ's own "Yes," is not
    # kept for a phrasing that asks no yes/no question, and "€12.95" is not cut as a sentence end.
    assert answers["Can you add items to an order I placed?"] == (
        "No. We can't add items to an order once it has been placed, but you can place a second order. "
        "Orders leave our warehouse within 2 business days."
    )
    assert answers["express delivery price"].startswith("Express delivery costs €12.95 and arrives")
    # "Unfortunately …" opens with a "no" the passage does not give to "international shipping".
    assert "international shipping" not in answers
    assert built.dropped == 1 and built.dropped_reasons == {"opens with … but the passage gives no clear yes or no": 1}
    assert built.kept == len(built.train)


def test_faq_examples_hold_out_a_stable_share_of_the_phrasings_and_never_train_on_them() -> None:
    usable = ["Can you add items to an order I placed?", "add a throw to my order", "express delivery price",
              "next day delivery cost", "fast shipping", "international shipping", "delivery to the US"]  # fmt: skip
    expected_held = {q for q in usable if is_held_out(q, 0.1)}
    assert expected_held and len(expected_held) < len(usable)  # the fixture exercises both sides

    built = faq_examples(ORDERS_FAQ, Verifier(), held_out_fraction=0.1)

    assert {example.question for example in built.held_out} == expected_held
    assert not expected_held & {example.question for example in built.train}
    assert built.kept + built.dropped + len(built.held_out) == len(usable)
    nothing_held = faq_examples(ORDERS_FAQ, Verifier(), held_out_fraction=0.0)
    assert not nothing_held.held_out and nothing_held.kept + nothing_held.dropped == len(usable)


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return super().encode(texts)


def test_faq_examples_embed_each_text_once_whatever_the_verifier_asks() -> None:
    counting = CountingEmbedder()
    built = faq_examples(ORDERS_FAQ, Verifier(embedder=counting), held_out_fraction=0.1)
    plain = faq_examples(ORDERS_FAQ, Verifier(embedder=HashingEmbedder()), held_out_fraction=0.1)
    assert built == plain
    assert counting.calls <= 2  # the batch of every known text, and at most one of texts it could not foresee
