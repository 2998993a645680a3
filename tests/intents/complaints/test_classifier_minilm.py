"""The zero-training prototypes with the bundled MiniLM on clear examples."""

from __future__ import annotations

import pytest

from intents.complaints.classifier import ComplaintClassifier, ScoredText
from intents.complaints.taxonomy import CATEGORIES, OTHER
from intents.embeddings import SentenceTransformerEmbedder

CLEAR_EXAMPLES = {
    "delivery": ["I ordered a sofa three weeks ago and it still hasn't been delivered."],
    "delay": ["The 8:15 train was over an hour late this morning."],
    "cancellation": ["The airline cancelled my flight home and offered no alternative."],
    "lost_or_damaged_item": ["The airline lost my suitcase on the way to Rome."],
    "product_defect": ["The vacuum cleaner I bought stopped working after three days."],
    "billing": ["There's a charge on my credit card statement that I never authorised."],
    "refund": ["I sent the dress back a month ago and my money still hasn't been refunded."],
    "booking": ["My reservation was changed to the wrong date without asking me."],
    "account_access": ["I'm locked out of my account and can't sign in."],
    "website_or_app": ["Your mobile app freezes every time I open my basket."],
    "rude_or_unhelpful_service": ["The man at the service desk was rude and refused to help me."],
    "waiting_time": ["I was kept on hold for ninety minutes before anyone picked up."],
    OTHER: ["I just hate Mondays."],
}


@pytest.fixture(scope="module")
def minilm_classifier() -> ComplaintClassifier:
    return ComplaintClassifier.load(SentenceTransformerEmbedder.load())


# Loading MiniLM and embedding the taxonomy takes 8 to 25 s on the shared 2-core machine.
@pytest.mark.slow
def test_the_prototypes_put_a_clear_complaint_of_each_category_in_its_category(
    minilm_classifier: ComplaintClassifier,
) -> None:
    texts = [text for examples in CLEAR_EXAMPLES.values() for text in examples]
    wanted = [category for category, examples in CLEAR_EXAMPLES.items() for _ in examples]
    assert [p.category for p in minilm_classifier.categorise(texts)] == wanted
    assert set(CLEAR_EXAMPLES) == set(CATEGORIES)


@pytest.mark.slow
def test_a_classified_conversation_tells_complaints_apart_from_questions_and_thanks(
    minilm_classifier: ComplaintClassifier,
) -> None:
    results = minilm_classifier.classify(
        [
            ScoredText("Hi, can I pay with PayPal?", 0.0, "neutral"),
            ScoredText("You charged my card twice for the same order!", -0.3, "negative"),
            ScoredText("Refund the second payment or I'll file a chargeback.", -0.2, "negative"),
            ScoredText("Thanks, that sorted it.", 0.4, "positive"),
        ]
    )
    assert [(r.is_complaint, r.category, r.severity) for r in results] == [
        (False, "", ""),
        (True, "billing", "low"),
        (True, results[2].category, "critical"),
        (False, "", ""),
    ]
    assert results[2].category in {"billing", "refund"}
    assert results[2].reason == "mentions legal action"
