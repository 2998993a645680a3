"""Complaints in customer messages: whether a message is one, what it is about, and how serious.

Three parts, each small enough to read in one go:

- Detection (`is_complaint`): a message is a complaint when its sentiment label is negative, or
  when it says so in words whatever its sentiment (`COMPLAINT_CUES`: "unacceptable", "never
  arrived", "charged twice", "I want to complain"; `REPEAT_CUES`: "third time", "still no";
  `LEGAL_CUES`). A question such as "how do I get a refund?" is neither, so it is not one.
- Category (`CategoryModel`): what the complaint is about, one of `CATEGORIES`, a generic
  customer-service taxonomy described in `complaint_taxonomy.json` next to this file:

  | category | about |
  | --- | --- |
  | delivery | an order or parcel late, not arrived, misdelivered, wrong item |
  | delay | the service itself ran late: a flight, train, appointment, repair |
  | cancellation | the company cancelled an order, booking or appointment, or will not let the customer cancel |
  | lost_or_damaged_item | something in the company's care lost or damaged: luggage, a parcel broken in transit |
  | product_defect | the product or service is faulty or poor: broken, does not work, dirty, bad food |
  | billing | wrong, double or unexpected charges and fees, failed payments |
  | refund | a refund or compensation refused, late or missing |
  | booking | trouble making, changing or confirming a booking, reservation or ticket |
  | account_access | cannot log in, locked out, password reset, hacked or closed account |
  | website_or_app | the website or app crashes, errors, will not load |
  | rude_or_unhelpful_service | rude, dismissive or unhelpful staff, wrong information, nobody answers |
  | waiting_time | long queues, hours on hold, no reply for days |
  | other | none of these is near enough |

  Two models: `PrototypeCategoryModel` needs no training (the nearest category centroid of the
  embedded descriptions and example phrasings); `LogisticCategoryModel` is a logistic-regression
  head over the same embeddings, trained from labelled complaints (`train_complaint_head`).
- Severity (`complaint_severity`): low, medium, high or critical, with a short reason, from a few
  rules (in this order):
  1. critical: a legal or safety cue (`LEGAL_CUES`: lawyer, sue, chargeback, regulator...;
     `SAFETY_CUES`: injured, unsafe, caught fire, allergic reaction...). Only these make a
     complaint critical, so "critical" always means a legal or safety risk.
  2. otherwise from the sentiment score (-1..1): high at or below `strongly_negative` (-0.75),
     medium at or below `negative` (-0.4), else low;
  3. then one level up, capped at high, for each of: a threat to leave or cancel
     (`LEAVING_CUES`), repeated contact or an ongoing problem (`REPEAT_CUES`: "third time",
     "still no", "for weeks"), and shouting (mostly capitals, or "!!!").

`ComplaintClassifier` puts the three together behind `classify`. A conversation's complaint is
its most severe one, the latest among equals (`worst_complaint`).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from intents.classifier import FloatArray, softmax
from intents.datasets import DatasetError
from intents.embeddings import Embedder, Vectors

TAXONOMY_FILE = Path(__file__).with_name("complaint_taxonomy.json")
HEAD_FILE = "complaint_head.json"
OTHER = "other"
CATEGORIES: tuple[str, ...] = (
    "delivery",
    "delay",
    "cancellation",
    "lost_or_damaged_item",
    "product_defect",
    "billing",
    "refund",
    "booking",
    "account_access",
    "website_or_app",
    "rude_or_unhelpful_service",
    "waiting_time",
    OTHER,
)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")  # in increasing order
# Below this cosine similarity to every category's centroid a complaint is `other`. Chosen on the
# airline development split (bench/complaints.py): about 5% of its labelled complaints and a
# quarter of those its annotators could not place ("Can't Tell") fall below it.
MIN_SIMILARITY = 0.25


# --- Cues ------------------------------------------------------------------------------------


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


COMPLAINT_CUES = _words(
    r"complain\w*",
    r"complaint",
    r"unacceptable",
    r"ridiculous",
    r"disgrace\w*",
    r"outrage\w*",
    r"appalling",
    r"fed up",
    r"not happy",
    r"unhappy",
    r"disappointed",
    r"worst",
    r"terrible",
    r"awful",
    r"useless",
    r"scam",
    r"rip[- ]?off",
    r"(?:never|not|hasn't|has not|haven't|have not|didn't|did not) (?:yet )?(?:arrived|come|received|shown up)",
    r"still (?:no|not|nothing|waiting|\w+n't)",
    r"charged\b[^.!?]{0,20}\btwice",
    r"double[- ]charged",
    r"overcharged",
    r"(?:is|was|arrived|came) (?:broken|damaged)",
    r"(?:doesn't|does not|didn't|did not|won't|stopped) work(?:ing)?",
    r"not working",
    r"wrong (?:item|order|size|product)",
    r"(?:so|very|was|were) rude",
    r"(?:no ?one|nobody) (?:answers|replies|helps|cares)",
)
LEGAL_CUES = _words(
    r"lawyers?",
    r"attorneys?",
    r"solicitors?",
    r"sue",
    r"suing",
    r"lawsuit",
    r"legal action",
    r"court",
    r"small claims",
    r"charge ?backs?",
    r"ombudsman",
    r"regulators?",
    r"trading standards",
    r"consumer protection",
    r"report (?:you|this|them) to",
)
SAFETY_CUES = _words(
    r"injur(?:ed|y|ies)",
    r"unsafe",
    r"dangerous",
    r"hazard\w*",
    r"caught fire",
    r"on fire",
    r"smoke",
    r"electric shock",
    r"burn(?:ed|t) (?:me|my|him|her)",
    r"allergic reaction",
    r"food poisoning",
    r"(?:in|to) (?:the )?hospital",
)
LEAVING_CUES = _words(
    r"cancel(?:l?ing)? my (?:account|subscription|membership|contract|plan|order|card)",
    r"close my account",
    r"switch(?:ing)? to",
    r"take my business elsewhere",
    r"taking my business elsewhere",
    r"(?:last|final) time I",
    r"never\b[^.!?]{0,40}\bagain",
    r"(?:i'm|i am) done with you",
    r"leaving you",
)
REPEAT_CUES = _words(
    r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+th) time",
    r"again and again",
    r"(?:\d+|several|many|multiple|countless|numerous) (?:times|calls|emails|e-mails|messages)",
    r"(?:already|keep|kept) (?:called|calling|asked|asking|told|contacted|writing|written|emailed|emailing)",
    r"still (?:no|not|nothing|waiting|\w+n't)",
    r"for (?:days|weeks|months)",
)
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def shouting(text: str) -> bool:
    """Three or more words in capitals making up at least half the words, or "!!!"."""
    if "!!!" in text:
        return True
    words = _LETTERS.findall(text)
    capitals = [w for w in words if w.isupper()]
    return len(capitals) >= 3 and len(capitals) * 2 >= len(words)


def is_complaint(text: str, sentiment_label: str) -> bool:
    """A negative message, or one that complains in so many words, says it is not the first
    time, or threatens legal action."""
    return sentiment_label == "negative" or any(cues.search(text) for cues in (COMPLAINT_CUES, REPEAT_CUES, LEGAL_CUES))


def complaint_severity(
    text: str, sentiment_score: float, *, strongly_negative: float = -0.75, negative: float = -0.4
) -> tuple[str, str]:
    """(severity, reason) of a complaint by the rules of the module docstring. The thresholds suit
    VADER's compound score, the scorer without a trained model; a trained model's P(pos) - P(neg)
    runs more extreme, so with one more complaints come out high."""
    if LEGAL_CUES.search(text):
        return "critical", "mentions legal action"
    if SAFETY_CUES.search(text):
        return "critical", "mentions a safety risk"
    if sentiment_score <= strongly_negative:
        level, reasons = 2, [f"strongly negative ({sentiment_score:.2f})"]
    elif sentiment_score <= negative:
        level, reasons = 1, [f"negative ({sentiment_score:.2f})"]
    elif sentiment_score < 0:
        level, reasons = 0, [f"mildly negative ({sentiment_score:.2f})"]
    else:
        level, reasons = 0, [f"complaint cue, tone not negative ({sentiment_score:.2f})"]
    for found, reason in (
        (LEAVING_CUES.search(text), "threatens to leave"),
        (REPEAT_CUES.search(text), "repeated or ongoing"),
        (shouting(text), "shouting"),
    ):
        if found:
            level = min(level + 1, 2)
            reasons.append(reason)
    return SEVERITIES[level], "; ".join(reasons)


def severity_rank(severity: str) -> int:
    """0 for low .. 3 for critical; -1 for no severity ("")."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def worst_complaint(complaints: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """Of (category, severity) pairs, oldest first: the most severe, the latest among equals;
    None when none has a severity. A conversation keeps the worst it has seen rather
    than the latest, so a calmer follow-up does not hide that the customer threatened to sue."""
    worst: tuple[str, str] | None = None
    for category, severity in complaints:
        if severity_rank(severity) >= 0 and (worst is None or severity_rank(severity) >= severity_rank(worst[1])):
            worst = (category, severity)
    return worst


# --- Taxonomy and category models ------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    examples: tuple[str, ...]


def load_taxonomy(path: Path | str = TAXONOMY_FILE) -> tuple[Category, ...]:
    """The categories with their descriptions and example phrasings (every one but `other`)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    categories = tuple(
        Category(name, str(entry["description"]), tuple(str(e) for e in entry["examples"]))
        for name, entry in data["categories"].items()
    )
    unknown = [c.name for c in categories if c.name not in CATEGORIES or c.name == OTHER]
    if unknown:
        raise ValueError(f"{path}: unknown categories {unknown}; add them to CATEGORIES")
    return categories


_MENTION_OR_URL = re.compile(r"@\w+|https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")


def prepare_text(text: str) -> str:
    """Handles and links say nothing about what a complaint is about; left in, MiniLM reads
    "@user" as being about accounts."""
    return _SPACE.sub(" ", _MENTION_OR_URL.sub(" ", text)).strip()


@dataclass(frozen=True)
class CategoryPrediction:
    category: str
    score: float  # prototypes: cosine similarity to the centroid; trained head: probability


class CategoryModel(Protocol):
    """Picks a category for each embedded complaint (rows of `vectors`, in order). `among`
    restricts the choice (for measuring against data that uses only some categories)."""

    name: str
    categories: tuple[str, ...]

    def predict(self, vectors: Vectors, *, among: Collection[str] | None = None) -> list[CategoryPrediction]: ...


def _columns(categories: Sequence[str], among: Collection[str] | None) -> list[int]:
    columns = [i for i, name in enumerate(categories) if among is None or name in among]
    if not columns:
        raise ValueError(f"none of {sorted(among or ())} is a category of this model")
    return columns


class PrototypeCategoryModel:
    """Zero training: each category is the normalised mean of its embedded description and
    example phrasings, and a complaint goes to the most similar one, or to `other` when none
    reaches `min_similarity`. (On the airline development split the centroid beat the nearest
    single phrasing and the mean of the best three.)"""

    name = "prototypes"

    def __init__(self, categories: Sequence[str], centroids: Vectors, *, min_similarity: float = MIN_SIMILARITY):
        if len(categories) != len(centroids):
            raise ValueError("one centroid per category")
        self.categories = tuple(categories)
        self.centroids = centroids
        self.min_similarity = min_similarity

    @classmethod
    def from_taxonomy(
        cls, embedder: Embedder, taxonomy: Sequence[Category] | None = None, *, min_similarity: float = MIN_SIMILARITY
    ) -> PrototypeCategoryModel:
        taxonomy = load_taxonomy() if taxonomy is None else taxonomy
        texts = [text for c in taxonomy for text in (c.description, *c.examples)]
        vectors = embedder.encode(texts)
        centroids, row = [], 0
        for category in taxonomy:
            count = 1 + len(category.examples)
            mean = vectors[row : row + count].mean(axis=0)
            centroids.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            row += count
        return cls([c.name for c in taxonomy], np.asarray(centroids, dtype=np.float32), min_similarity=min_similarity)

    def predict(self, vectors: Vectors, *, among: Collection[str] | None = None) -> list[CategoryPrediction]:
        columns = _columns(self.categories, among)
        similarities = vectors @ self.centroids[columns].T
        predictions = []
        for row in similarities:
            best = int(np.argmax(row))
            score = round(float(row[best]), 4)
            category = self.categories[columns[best]] if score >= self.min_similarity else OTHER
            predictions.append(CategoryPrediction(category, score))
        return predictions


class LogisticCategoryModel:
    """A multinomial logistic-regression head over the sentence embeddings, trained from labelled
    complaints. It knows only the categories it was trained on. Saved as plain JSON
    (coefficients, not a pickle), so loading one runs no code."""

    def __init__(
        self, categories: Sequence[str], coef: FloatArray, intercept: FloatArray, *, embedding_model: str = ""
    ) -> None:
        self.categories = tuple(categories)
        self.coef = coef
        self.intercept = intercept
        self.embedding_model = embedding_model
        self.name = "logistic-head"

    @classmethod
    def fit(
        cls, vectors: Vectors, labels: Sequence[str], *, c: float = 2.0, embedding_model: str = ""
    ) -> LogisticCategoryModel:
        """Class weights balanced: the categories are far from equally common, and a rare one
        (a safety scare) matters as much as a common one."""
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError("a head needs at least two categories to tell apart")
        unknown = sorted(set(labels) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}")
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        model.fit(vectors, list(labels))
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # two classes: sklearn keeps one row, for the second class
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
        return cls(
            [str(name) for name in model.classes_], coef, intercept.astype(np.float32), embedding_model=embedding_model
        )

    def probabilities(self, vectors: Vectors) -> FloatArray:
        return softmax(np.asarray(vectors @ self.coef.T + self.intercept, dtype=np.float32))

    def predict(self, vectors: Vectors, *, among: Collection[str] | None = None) -> list[CategoryPrediction]:
        columns = _columns(self.categories, among)
        probabilities = self.probabilities(vectors)[:, columns]
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [
            CategoryPrediction(self.categories[columns[int(b)]], round(float(row[b]), 4))
            for b, row in zip(best, probabilities, strict=True)
        ]

    def save(self, directory: Path | str) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / HEAD_FILE
        data = {
            "categories": list(self.categories),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "embedding_model": self.embedding_model,
        }
        path.write_text(json.dumps(data))
        return path

    @classmethod
    def load(cls, directory: Path | str) -> LogisticCategoryModel:
        path = Path(directory) / HEAD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a complaint head directory (no {HEAD_FILE})")
        data = json.loads(path.read_text())
        return cls(
            data["categories"],
            np.asarray(data["coef"], dtype=np.float32),
            np.asarray(data["intercept"], dtype=np.float32),
            embedding_model=str(data.get("embedding_model", "")),
        )


# --- The classifier --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredText:
    """A customer message with the sentiment the sentiment scorer gave it."""

    text: str
    sentiment_score: float  # -1..1
    sentiment_label: str  # negative, neutral or positive


@dataclass(frozen=True)
class Complaint:
    is_complaint: bool
    category: str = ""  # one of CATEGORIES; "" when not a complaint
    severity: str = ""  # one of SEVERITIES; "" when not a complaint
    reason: str = ""  # why that severity, e.g. "strongly negative (-0.82); threatens to leave"
    category_score: float = 0.0  # the category model's score for its choice


NOT_A_COMPLAINT = Complaint(is_complaint=False)


class ComplaintClassifier:
    """Detection, category and severity of customer messages. Only the complaints are embedded,
    in one batch: most messages are not complaints and cost no model time."""

    def __init__(self, embedder: Embedder, model: CategoryModel) -> None:
        self.embedder = embedder
        self.model = model

    @classmethod
    def load(cls, embedder: Embedder, *, head: Path | str | None = None) -> ComplaintClassifier:
        """With `head`, a trained head from that directory; without, the zero-training prototypes."""
        model: CategoryModel = (
            LogisticCategoryModel.load(head) if head is not None else PrototypeCategoryModel.from_taxonomy(embedder)
        )
        return cls(embedder, model)

    @property
    def name(self) -> str:
        return f"complaints:{self.model.name}"

    def categorise(self, texts: Sequence[str], *, among: Collection[str] | None = None) -> list[CategoryPrediction]:
        """The category of each text, taken to be a complaint."""
        if not texts:
            return []
        return self.model.predict(self.embedder.encode([prepare_text(t) for t in texts]), among=among)

    def classify(self, messages: Sequence[ScoredText]) -> list[Complaint]:
        """One result per message, in order."""
        chosen = [i for i, m in enumerate(messages) if is_complaint(m.text, m.sentiment_label)]
        categories = dict(zip(chosen, self.categorise([messages[i].text for i in chosen]), strict=True))
        results = []
        for i, message in enumerate(messages):
            prediction = categories.get(i)
            if prediction is None:
                results.append(NOT_A_COMPLAINT)
                continue
            severity, reason = complaint_severity(message.text, message.sentiment_score)
            results.append(Complaint(True, prediction.category, severity, reason, prediction.score))
        return results


# --- Labelled data and measurement -----------------------------------------------------------

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


def category_scores(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> dict[str, float]:
    """accuracy, macro-F1 over `labels` (a prediction outside them counts as wrong) and F1 of each."""
    from sklearn.metrics import f1_score

    labels = list(labels)
    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    scores = {
        "examples": float(len(gold_a)),
        "accuracy": float((gold_a == pred_a).mean()) if len(gold_a) else 0.0,
        "macro_f1": float(f1_score(gold_a, pred_a, labels=labels, average="macro", zero_division=0)),
    }
    per_label = f1_score(gold_a, pred_a, labels=labels, average=None, zero_division=0)
    for label, value in zip(labels, per_label, strict=True):
        scores[f"f1_{label}"] = float(value)
    return {k: round(v, 4) for k, v in scores.items()}
