"""Labelled complaints (the airline tweets' negative reasons, in this taxonomy) and training the
logistic head on them."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from intents.complaints.models import LogisticCategoryModel, prepare_text
from intents.complaints.taxonomy import OTHER
from intents.datasets import DatasetError
from intents.embeddings import Embedder

# The airline data set's `negativereason` in this taxonomy. "Can't Tell" has no category and is
# dropped. Judgement calls: "Bad Flight" (seats, wifi, food, a dirty cabin) is the product
# being poor, so product_defect; flight attendants are service staff, so their complaints join
# "Customer Service Issue" under rude_or_unhelpful_service, although that label also covers hold
# times, which this taxonomy calls waiting_time.
AIRLINE_REASONS: dict[str, str] = {
    "Late Flight": "delay",
    "Cancelled Flight": "cancellation",
    "Lost Luggage": "lost_or_damaged_item",
    "Damaged Luggage": "lost_or_damaged_item",
    "Bad Flight": "product_defect",
    "Flight Booking Problems": "booking",
    "Customer Service Issue": "rude_or_unhelpful_service",
    "Flight Attendant Complaints": "rude_or_unhelpful_service",
    "longlines": "waiting_time",
}
AIRLINE_UNPLACED = "Can't Tell"
# The republished airline file has some words of its tweets replaced by reason names ("I was
# Cancelled Flightled", "see you Late Flightr", "change a Flight Booking Problems"): about one
# negative tweet in seven. Put back as the words they most likely replaced, so neither model
# reads a label that a real message would not contain.
_AIRLINE_ARTEFACTS = (("Flight Booking Problems", "booking"), ("Cancelled Flight", "cancel"), ("Late Flight", "late"))


@dataclass(frozen=True)
class ComplaintExample:
    text: str
    category: str  # one of CATEGORIES


def airline_text_repair(text: str) -> str:
    for artefact, word in _AIRLINE_ARTEFACTS:
        text = text.replace(artefact, word)
    return text


def load_airline_complaints(path: Path | str, *, unplaced: bool = False) -> list[ComplaintExample]:
    """The negative tweets of the airline CSV (`text`, `sentiment` or `airline_sentiment`,
    `negativereason`) as complaints in this taxonomy, text repaired, each text once (a text
    given two different reasons is dropped). With `unplaced`, the "Can't Tell" ones instead,
    with category `other`."""
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or [])
            label = next((c for c in ("airline_sentiment", "sentiment") if c in columns), None)
            if label is None or not {"text", "negativereason"} <= columns:
                raise DatasetError(f"{path}: needs columns text, sentiment and negativereason")
            for row in reader:
                reason, text = (row["negativereason"] or "").strip(), (row["text"] or "").strip()
                if row[label].strip().lower() != "negative" or not text:
                    continue
                if unplaced and reason == AIRLINE_UNPLACED:
                    pairs.append((airline_text_repair(text), OTHER))
                elif not unplaced and reason in AIRLINE_REASONS:
                    pairs.append((airline_text_repair(text), AIRLINE_REASONS[reason]))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    categories_of: dict[str, set[str]] = defaultdict(set)
    for text, category in pairs:
        categories_of[text].add(category)
    examples = [ComplaintExample(t, c) for t, c in dict.fromkeys(pairs) if len(categories_of[t]) == 1]
    if not examples:
        raise DatasetError(f"{path}: no complaints")
    return examples


def train_complaint_head(
    examples: Sequence[ComplaintExample], embedder: Embedder, *, c: float = 2.0
) -> LogisticCategoryModel:
    vectors = embedder.encode([prepare_text(e.text) for e in examples])
    return LogisticCategoryModel.fit(vectors, [e.category for e in examples], c=c, embedding_model=embedder.model_name)
