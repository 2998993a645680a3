"""Training and evaluation examples for the dialogue model: a customer question, the FAQ passage
retrieval finds for it, and the reference answer.

Formats:
- `bitext`: the Bitext customer-support CSV (`instruction,intent,...,response`). It has no FAQ, so
  one is built from the training rows: per intent, the example closest to the intent's centroid
  becomes the entry (its instruction the question, every training instruction of the intent a
  phrasing, its response the answer). Questions are then matched against that FAQ by retrieval,
  exactly as in production; the model learns to word an answer for this customer from the passage.
- `jsonl`: one object per line with `question` and `answer`, and optionally `passages`
  (`[{"question": ..., "answer": ...}]`); without passages, they come from a given FAQ.

Or no file at all (`faq_examples`): a site's own FAQ, each alternative phrasing of an entry a
customer question, the entry its passage, and a short grounded reply the verifier passes its target.

The held-out split is a stable function of the question text (not of file order), so `finetune`
and `evaluate` agree on it without sharing state.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from intents.embeddings import Embedder, MemoEmbedder
from intents.generation.grounding import SENTENCE_END, guard_reply, passage_sources
from intents.generation.verifier import Passage, Verifier, lead_in
from intents.retrieval import Retriever
from intents.types import FaqDocument
from intents.words import content_stems, sentences

FORMATS = ("bitext", "jsonl")


class DialogueDataError(ValueError):
    """The file cannot be read as the format says."""


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    intent: str = ""
    passages: tuple[FaqDocument, ...] = ()


@dataclass(frozen=True)
class DialogueExample:
    question: str
    passages: tuple[FaqDocument, ...]
    answer: str


def is_held_out(question: str, fraction: float, seed: int = 0) -> bool:
    digest = hashlib.sha256(f"{seed}:{question.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split(rows: Sequence[QA], held_out_fraction: float, seed: int = 0) -> tuple[list[QA], list[QA]]:
    train = [row for row in rows if not is_held_out(row.question, held_out_fraction, seed)]
    held = [row for row in rows if is_held_out(row.question, held_out_fraction, seed)]
    return train, held


def load_rows(path: Path | str, data_format: str) -> list[QA]:
    path = Path(path)
    if data_format not in FORMATS:
        raise DialogueDataError(f"unknown format {data_format!r}; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise DialogueDataError(f"{path} is not a file")
    if data_format == "bitext":
        return _bitext(path)
    return _jsonl(path)


def _bitext(path: Path) -> list[QA]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"instruction", "intent", "response"} - set(reader.fieldnames or ())
        if missing:
            raise DialogueDataError(f"{path}: not a Bitext CSV, missing columns {', '.join(sorted(missing))}")
        rows = [
            QA(row["instruction"].strip(), row["response"].strip(), row["intent"].strip())
            for row in reader
            if row["instruction"].strip() and row["response"].strip()
        ]
    if not rows:
        raise DialogueDataError(f"{path}: no rows with an instruction and a response")
    return rows


def _jsonl(path: Path) -> list[QA]:
    rows: list[QA] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                passages = tuple(
                    FaqDocument(-i - 1, str(p["question"]), str(p["answer"]))
                    for i, p in enumerate(item.get("passages") or [])
                )
                rows.append(QA(str(item["question"]).strip(), str(item["answer"]).strip(), "", passages))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise DialogueDataError(
                    f"{path}:{number}: expected an object with question and answer ({exc})"
                ) from exc
    if not rows:
        raise DialogueDataError(f"{path}: no examples")
    return rows


def faq_from_rows(rows: Sequence[QA], embedder: Embedder, max_phrasings: int = 40) -> list[FaqDocument]:
    """One FAQ entry per intent: the row nearest the intent's centroid, with the intent's
    instructions as phrasings."""
    by_intent: dict[str, list[QA]] = defaultdict(list)
    for row in rows:
        by_intent[row.intent or "default"].append(row)
    documents: list[FaqDocument] = []
    for number, (_, members) in enumerate(sorted(by_intent.items())):
        vectors = embedder.encode([m.question for m in members])
        centroid = vectors.mean(axis=0)
        best = members[int(np.argmax(vectors @ centroid))]
        phrasings = tuple(m.question for m in members if m.question != best.question)[:max_phrasings]
        documents.append(FaqDocument(number + 1, best.question, best.answer, phrasings))
    return documents


def attach_passages(rows: Sequence[QA], index: Retriever, embedder: Embedder) -> list[DialogueExample]:
    """Each row with the passage retrieval finds for its question (or the passages it brought)."""
    needing = [row for row in rows if not row.passages]
    found: dict[str, FaqDocument] = {}
    if needing and len(index):
        vectors = embedder.encode([index.search_text(row.question) for row in needing])
        for row, vector in zip(needing, vectors, strict=True):
            matches = index.retrieve(row.question, vector, k=1)
            if matches:
                found[row.question] = matches[0].document
    examples = []
    for row in rows:
        passages = row.passages or ((found[row.question],) if row.question in found else ())
        examples.append(DialogueExample(row.question, passages, row.answer))
    return examples


def grounded_targets(examples: Sequence[DialogueExample]) -> tuple[list[DialogueExample], dict[str, int]]:
    """Examples whose reference answer states only what its passage states.

    A reference with a sentence the passage does not support (another customer's order number, a
    placeholder the passage lacks) would teach the model to invent: such sentences are dropped
    from the target, and an example whose answer hinges on an unsupported number, or keeps less
    than half its text, is left out. Returns the examples and how many were kept as they were,
    trimmed and left out."""
    kept: list[DialogueExample] = []
    counts = {"unchanged": 0, "trimmed": 0, "left_out": 0}
    for example in examples:
        checked = guard_reply(example.answer, passage_sources(example.passages), fallback="")
        if checked.fell_back:
            counts["left_out"] += 1
            continue
        counts["trimmed" if checked.removed else "unchanged"] += 1
        kept.append(DialogueExample(example.question, example.passages, checked.text))
    return kept, counts


# Where a reply is split into the sentences the verifier judges, as the serving stream splits it
# (`verifier.VerifiedStream`): "€4.95" and "lumenandloom.example/returns" stay whole.


@dataclass(frozen=True)
class FaqExamples:
    """Training examples built from an FAQ (`faq_examples`), and what was left out of them."""

    train: list[DialogueExample]  # the kept examples of the training phrasings
    held_out: list[DialogueExample]  # the held-out phrasings (never trained on), target unchecked
    kept: int  # training phrasings whose every target sentence the verifier passed
    dropped: int  # training phrasings left out because the verifier refused a sentence
    dropped_reasons: dict[str, int]  # the verifier's reasons, with how often each was given


def faq_target(question: str, document: FaqDocument, verifier: Verifier) -> str:
    """A short grounded reply to `question` from `document`: the verified lead-in ("No. " to a yes/no
    question whose answer says no), the answer's key sentence, and the sentence after it (whole
    sentences of the answer, in its words)."""
    passage = Passage(question, document.question, document.answer)
    whole = [s.strip() for s in SENTENCE_END.split(document.answer) if s.strip()]
    key = verifier.key_sentence(passage)  # one of the verifier's sentences, which "€4.95" splits
    position = next((i for i, sentence in enumerate(whole) if key in sentence), 0)
    chosen = whole[position : position + 2]
    # The FAQ's own "Yes," / "No," answers the FAQ question; a phrasing may ask something narrower or
    # beside it ("Is the shop open on Mondays?" against "Yes, we have a store …, open Tuesday to
    # Sunday"). A yes or no is therefore kept, or a lead-in added, only where the passage gives this
    # question one and the sentence speaks of everything the question asks about; elsewhere the
    # reply states the facts and the customer draws the conclusion.
    decided = passage.stance() is not None and _speaks_of_all(question, chosen[0] if chosen else "")
    if chosen and not decided:
        chosen[0] = _drop_opening_stance(chosen[0])
    return ((lead_in(passage) if decided else "") + " ".join(chosen)).strip()


def _speaks_of_all(question: str, sentence: str) -> bool:
    asked = content_stems(question)
    return bool(asked) and asked <= content_stems(sentence)


_OPENING_STANCE = re.compile(r"^(?:yes|no|sure|absolutely|certainly|of course|unfortunately|sadly)\s*,\s*", re.I)


def _drop_opening_stance(sentence: str) -> str:
    rest = _OPENING_STANCE.sub("", sentence, count=1)
    return rest[:1].upper() + rest[1:] if rest != sentence else sentence


def target_failures(target: str, question: str, document: FaqDocument, verifier: Verifier) -> list[str]:
    """The verifier's reasons for refusing sentences of `target` ([] when every sentence passes)."""
    passage = Passage(question, document.question, document.answer)
    reasons = []
    for sentence in SENTENCE_END.split(target):
        if sentence.strip():
            verdict = verifier.check(sentence.strip(), passage)
            if not verdict.supported:
                reasons.append(verdict.reason)
    return reasons


def faq_examples(
    documents: Sequence[FaqDocument], verifier: Verifier, held_out_fraction: float = 0.1, seed: int = 0
) -> FaqExamples:
    """Paraphrase -> grounded answer examples from an FAQ.

    Every alternative phrasing of an entry is a customer question (the FAQ question itself is not:
    the model should learn to answer the words customers use, and the question is in the passage);
    the entry is its passage and `faq_target` its reply, kept only when the verifier passes each of
    its sentences. A phrasing that two entries share is ambiguous and left out. A stable share of
    phrasings (by text hash, as in `split`) is held out, so a later evaluation can use them."""
    if verifier.embedder is not None:
        # The verifier embeds the passage's sentences again for every phrasing it checks: embed
        # every text it will ask for once, in batches, and answer its calls from memory.
        memo = MemoEmbedder(verifier.embedder)
        memo.encode(_texts_to_embed(documents))
        verifier = replace(verifier, embedder=memo)
    owners: dict[str, set[int]] = defaultdict(set)
    for document in documents:
        for phrasing in document.alternatives:
            owners[phrasing.strip().lower()].add(document.id)
    train: list[DialogueExample] = []
    held: list[DialogueExample] = []
    reasons: Counter[str] = Counter()
    kept = dropped = 0
    for document in documents:
        seen = {document.question.strip().lower()}
        for phrasing in document.alternatives:
            question = phrasing.strip()
            if not question or question.lower() in seen or len(owners[question.lower()]) > 1:
                continue
            seen.add(question.lower())
            target = faq_target(question, document, verifier)
            example = DialogueExample(question, (document,), target)
            if is_held_out(question, held_out_fraction, seed):
                held.append(example)
                continue
            failures = target_failures(target, question, document, verifier)
            if failures:
                dropped += 1
                reasons.update(_reason_kind(reason) for reason in failures)
                continue
            kept += 1
            train.append(example)
    return FaqExamples(train, held, kept, dropped, dict(reasons.most_common()))


def _texts_to_embed(documents: Sequence[FaqDocument]) -> list[str]:
    texts = ["No.", "Yes."]
    for document in documents:
        texts += [document.question, *(a.strip() for a in document.alternatives), *sentences(document.answer)]
        texts += [s.strip() for s in SENTENCE_END.split(document.answer) if s.strip()]
    return texts


def _reason_kind(reason: str) -> str:
    """A verifier reason without its particulars, to count: "claims the passage lacks: cotton" ->
    "claims the passage lacks"."""
    return re.sub(r"'[^']*'", "…", re.sub(r":.*$|\s*\(.*\)$", "", reason))


def file_manifest(path: Path | str, data_format: str, rows_used: int, extra: dict[str, object]) -> dict[str, object]:
    """What a model was trained on: the file, its checksum and how it was used."""
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"file": str(path.resolve()), "format": data_format, "sha256": digest, "rows_used": rows_used, **extra}
