"""Complaint detection, category and severity: the rules on their own, the two category models on
made-up vectors, and the zero-training prototypes with the bundled MiniLM on clear examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from intents.complaints import (
    AIRLINE_REASONS,
    CATEGORIES,
    OTHER,
    SEVERITIES,
    Category,
    ComplaintClassifier,
    LogisticCategoryModel,
    PrototypeCategoryModel,
    ScoredText,
    category_scores,
    complaint_severity,
    is_complaint,
    load_airline_complaints,
    load_taxonomy,
    prepare_text,
    shouting,
    worst_complaint,
)
from intents.embeddings import SentenceTransformerEmbedder, Vectors

# --- Detection and severity rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("This is useless.", "negative", True),
        ("My parcel never arrived.", "neutral", True),
        ("I was charged twice for the same order.", "neutral", True),
        ("This is the third time I am writing about this.", "neutral", True),
        ("Fix it or I will take you to court.", "neutral", True),
        ("How do I get a refund?", "neutral", False),
        ("Hi, do you ship to Spain?", "neutral", False),
        ("Thanks, that was really helpful!", "positive", False),
    ],
)
def test_a_message_is_a_complaint_when_it_is_negative_or_complains_in_so_many_words(
    text: str, label: str, expected: bool
) -> None:
    assert is_complaint(text, label) is expected


@pytest.mark.parametrize(
    ("text", "score", "severity", "reason"),
    [
        ("The courier was late.", -0.2, "low", "mildly negative (-0.20)"),
        ("My parcel never arrived.", 0.0, "low", "complaint cue, tone not negative (0.00)"),
        ("This is really bad.", -0.5, "medium", "negative (-0.50)"),
        ("This is horrible, disgusting service.", -0.9, "high", "strongly negative (-0.90)"),
        ("The courier was late, I'm switching to another shop.", -0.2, "medium", "threatens to leave"),
        ("This is the third time the courier was late.", -0.2, "medium", "repeated or ongoing"),
        ("THE COURIER WAS LATE AGAIN", -0.2, "medium", "shouting"),
        ("The courier was late!!!", -0.2, "medium", "shouting"),
        ("Third time late, I'm switching to another shop!!!", -0.2, "high", "threatens to leave"),
        ("Third time late, I'm switching to another shop!!!", -0.9, "high", "shouting"),
        ("I want a chargeback for this order.", 0.1, "critical", "mentions legal action"),
        ("I'm calling my lawyer tomorrow.", -0.3, "critical", "mentions legal action"),
        ("The charger caught fire in my kitchen.", -0.3, "critical", "mentions a safety risk"),
        ("My son had an allergic reaction to the snack.", -0.3, "critical", "mentions a safety risk"),
    ],
)
def test_severity_follows_the_sentiment_raised_by_cues_and_is_critical_only_for_legal_or_safety_matters(
    text: str, score: float, severity: str, reason: str
) -> None:
    found, why = complaint_severity(text, score)
    assert found == severity
    assert reason in why


def test_cues_never_make_a_complaint_critical_on_their_own() -> None:
    severity, reason = complaint_severity("FOURTH TIME I AM ASKING, CANCEL MY ACCOUNT NOW!!!", -1.0)
    assert severity == "high"
    assert reason == "strongly negative (-1.00); threatens to leave; repeated or ongoing; shouting"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WHERE IS MY ORDER", True),
        ("Ok!!!", True),
        ("I ordered from UPS and DHL via the USA site", False),
        ("Where is my order?", False),
        ("NO", False),
    ],
)
def test_shouting_is_mostly_capitals_or_three_exclamation_marks(text: str, expected: bool) -> None:
    assert shouting(text) is expected


def test_a_conversations_complaint_is_its_most_severe_the_latest_among_equals() -> None:
    assert worst_complaint([]) is None
    assert worst_complaint([("", ""), ("", "")]) is None
    assert worst_complaint([("delivery", "low"), ("billing", "high"), ("refund", "medium")]) == ("billing", "high")
    assert worst_complaint([("delivery", "medium"), ("", ""), ("refund", "medium")]) == ("refund", "medium")
    assert worst_complaint([("billing", "critical"), ("delivery", "high")]) == ("billing", "critical")


def test_handles_and_links_are_left_out_of_what_is_embedded() -> None:
    assert prepare_text("@united   my bag is lost https://t.co/x  again") == "my bag is lost again"


# --- Taxonomy and category models, on made-up vectors ---------------------------------------


def test_the_bundled_taxonomy_describes_every_category_but_other_with_examples() -> None:
    taxonomy = load_taxonomy()
    assert [c.name for c in taxonomy] == [c for c in CATEGORIES if c != OTHER]
    assert all(c.description and len(c.examples) >= 5 for c in taxonomy)
    assert set(AIRLINE_REASONS.values()) <= set(CATEGORIES)
    assert SEVERITIES == ("low", "medium", "high", "critical")


class AxisEmbedder:
    """Each text becomes a unit vector along the axis of the first keyword it contains."""

    model_name = "axes"
    dimension = 3
    keywords = ("parcel", "invoice", "rude")

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            hits = [k for k, word in enumerate(self.keywords) if word in text]
            if hits:
                rows[i, hits[0]] = 1.0
        return rows


TOY_TAXONOMY = (
    Category("delivery", "parcel problems", ("my parcel is late", "parcel lost")),
    Category("billing", "invoice problems", ("wrong invoice",)),
    Category("rude_or_unhelpful_service", "rude staff", ("so rude",)),
)


def test_prototypes_pick_the_nearest_category_and_other_when_none_is_near() -> None:
    model = PrototypeCategoryModel.from_taxonomy(AxisEmbedder(), TOY_TAXONOMY)
    classifier = ComplaintClassifier(AxisEmbedder(), model)
    predictions = classifier.categorise(["where is my parcel", "your invoice is wrong", "the weather"])
    assert [p.category for p in predictions] == ["delivery", "billing", OTHER]
    assert predictions[0].score == pytest.approx(1.0)


def test_prototypes_can_be_restricted_to_some_categories() -> None:
    model = PrototypeCategoryModel.from_taxonomy(AxisEmbedder(), TOY_TAXONOMY, min_similarity=-1.0)
    vectors = AxisEmbedder().encode(["parcel"])
    assert model.predict(vectors, among={"billing", "rude_or_unhelpful_service"})[0].category in {
        "billing",
        "rude_or_unhelpful_service",
    }
    with pytest.raises(ValueError, match="none of"):
        model.predict(vectors, among={"refund"})


def test_a_trained_head_learns_its_categories_and_survives_a_save_and_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = {"delivery": [1.0, 0, 0], "billing": [0, 1.0, 0], "refund": [0, 0, 1.0]}
    vectors = np.vstack([np.asarray(c) + rng.normal(0, 0.1, (20, 3)) for c in centres.values()]).astype(np.float32)
    labels = [name for name in centres for _ in range(20)]
    head = LogisticCategoryModel.fit(vectors, labels, c=1.0)
    probe = np.asarray(list(centres.values()), dtype=np.float32)
    assert [p.category for p in head.predict(probe)] == list(centres)
    head.save(tmp_path)
    loaded = LogisticCategoryModel.load(tmp_path)
    assert [p.category for p in loaded.predict(probe)] == list(centres)
    assert np.allclose(loaded.probabilities(probe), head.probabilities(probe))
    assert [p.category for p in loaded.predict(probe[1:], among={"billing", "refund"})] == ["billing", "refund"]


def test_a_head_refuses_unknown_categories_and_a_single_one() -> None:
    vectors = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="unknown categories"):
        LogisticCategoryModel.fit(vectors, ["delivery", "billing", "weather"])
    with pytest.raises(ValueError, match="at least two"):
        LogisticCategoryModel.fit(vectors, ["delivery"] * 3)


def test_a_head_with_two_categories_predicts_both() -> None:
    vectors = np.asarray([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    head = LogisticCategoryModel.fit(vectors, ["delivery", "delivery", "billing", "billing"], c=10.0)
    assert [p.category for p in head.predict(np.eye(2, dtype=np.float32))] == ["delivery", "billing"]


def test_only_complaints_are_embedded_and_the_rest_come_back_as_not_complaints() -> None:
    class Counting(AxisEmbedder):
        seen: list[str] = []

        def encode(self, texts: Sequence[str]) -> Vectors:
            self.seen.extend(texts)
            return super().encode(texts)

    embedder = Counting()
    classifier = ComplaintClassifier(embedder, PrototypeCategoryModel.from_taxonomy(AxisEmbedder(), TOY_TAXONOMY))
    results = classifier.classify(
        [
            ScoredText("Hi, where do you ship?", 0.0, "neutral"),
            ScoredText("@shop my parcel never arrived, third time I ask", -0.3, "negative"),
            ScoredText("Thanks!", 0.6, "positive"),
        ]
    )
    assert embedder.seen == ["my parcel never arrived, third time I ask"]
    assert [r.is_complaint for r in results] == [False, True, False]
    assert (results[1].category, results[1].severity) == ("delivery", "medium")
    assert results[1].reason == "mildly negative (-0.30); repeated or ongoing"
    assert (results[0].category, results[0].severity) == ("", "")


# --- The airline data and the measurement ---------------------------------------------------


def test_airline_reasons_map_onto_the_taxonomy_and_cant_tell_is_set_apart(tmp_path: Path) -> None:
    data = tmp_path / "airline.csv"
    data.write_text(
        "tweet_id,text,sentiment,negativereason,airline\n"
        "1,@united my bag is gone,negative,Lost Luggage,United\n"
        "2,@united I was Cancelled Flightled,negative,Cancelled Flight,United\n"
        "3,@united meh,negative,Can't Tell,United\n"
        "4,@united thanks,positive,,United\n"
        "5,@united rude crew,negative,Flight Attendant Complaints,United\n"
        "6,@united rude crew,negative,Customer Service Issue,United\n"
        "7,@united same text,negative,Late Flight,United\n"
        "8,@united same text,negative,Bad Flight,United\n"
    )
    examples = load_airline_complaints(data)
    assert [(e.text, e.category) for e in examples] == [
        ("@united my bag is gone", "lost_or_damaged_item"),
        ("@united I was cancelled", "cancellation"),
        ("@united rude crew", "rude_or_unhelpful_service"),
    ]
    assert [(e.text, e.category) for e in load_airline_complaints(data, unplaced=True)] == [("@united meh", OTHER)]


def test_category_scores_count_a_prediction_outside_the_labels_as_wrong() -> None:
    scores = category_scores(["delay", "delay", "booking"], ["delay", "waiting_time", "booking"], ["delay", "booking"])
    assert scores["accuracy"] == pytest.approx(0.6667, abs=1e-4)
    assert scores["f1_booking"] == 1.0
    assert scores["f1_delay"] == pytest.approx(0.6667, abs=1e-4)


# --- The bundled MiniLM ----------------------------------------------------------------------

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
