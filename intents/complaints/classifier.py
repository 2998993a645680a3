"""`ComplaintClassifier`: detection, category and severity of customer messages together."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from intents.complaints.chinese import chinese_category
from intents.complaints.cues import is_complaint
from intents.complaints.models import (
    CategoryModel,
    CategoryPrediction,
    LogisticCategoryModel,
    PrototypeCategoryModel,
    prepare_text,
)
from intents.complaints.severity import complaint_severity
from intents.embeddings import Embedder
from intents.languages import CHINESE, detect_language


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
        """One result per message, in order. A Chinese complaint's category comes from its cue words
        (`intents.complaints.chinese`): the embedding model reads English only."""
        chosen = [i for i, m in enumerate(messages) if is_complaint(m.text, m.sentiment_label)]
        chinese = {i for i in chosen if detect_language(messages[i].text) == CHINESE}
        embedded = [i for i in chosen if i not in chinese]
        categories = dict(zip(embedded, self.categorise([messages[i].text for i in embedded]), strict=True))
        for i in chinese:
            categories[i] = CategoryPrediction(*chinese_category(messages[i].text))
        results = []
        for i, message in enumerate(messages):
            prediction = categories.get(i)
            if prediction is None:
                results.append(NOT_A_COMPLAINT)
                continue
            severity, reason = complaint_severity(message.text, message.sentiment_score)
            results.append(Complaint(True, prediction.category, severity, reason, prediction.score))
        return results
