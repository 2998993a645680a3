"""Calibration, out-of-scope decisions and scores of the intent classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from intents.classifier import Decoder, EncoderIntentClassifier, fit_temperature, softmax, threshold_for_rejection_rate
from intents.datasets import OUT_OF_SCOPE, Example, IntentDataset
from intents.metrics import expected_calibration_error, intent_scores


def overconfident_logits(n: int = 4000, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose softmax is far too sure of itself: the top class is right 60% of the time."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, n)
    predicted = np.where(rng.random(n) < 0.6, targets, rng.integers(0, classes, n))
    logits = rng.normal(0, 1, (n, classes))
    logits[np.arange(n), predicted] += 8.0
    return logits.astype(np.float32), targets.astype(np.int64)


def test_temperature_scaling_makes_an_overconfident_model_honest() -> None:
    logits, targets = overconfident_logits()
    correct = softmax(logits).argmax(1) == targets
    before = expected_calibration_error(softmax(logits).max(1).tolist(), correct.tolist())
    temperature = fit_temperature(logits, targets)
    after = expected_calibration_error(softmax(logits, temperature).max(1).tolist(), correct.tolist())
    assert temperature > 1.5
    assert before > 0.2
    assert after < 0.05


def test_the_threshold_rejects_the_asked_share_of_in_scope_questions() -> None:
    confidences = np.linspace(0.01, 1.0, 100)
    threshold = threshold_for_rejection_rate(confidences.tolist(), 0.05)
    assert np.mean(confidences < threshold) == pytest.approx(0.05, abs=0.011)


def test_a_low_confidence_question_is_out_of_scope_and_says_why() -> None:
    decoder = Decoder(("refund", "track"), temperature=1.0, oos_threshold=0.7)
    sure, unsure = decoder.decode(np.array([[4.0, 0.0], [0.2, 0.0]], dtype=np.float32))
    assert (sure.intent, sure.out_of_scope) == ("refund", False)
    assert sure.ranking[0][0] == "refund" and sure.ranking[0][1] > 0.9
    assert unsure.intent == OUT_OF_SCOPE and unsure.out_of_scope
    assert unsure.oos_reason.startswith("p=0.55 < 0.70")


def test_the_oos_class_wins_when_it_is_more_likely_than_every_intent() -> None:
    decoder = Decoder(("refund", "track", OUT_OF_SCOPE))
    (prediction,) = decoder.decode(np.array([[0.0, 0.0, 3.0]], dtype=np.float32))
    assert prediction.intent == OUT_OF_SCOPE
    assert prediction.oos_reason.startswith("oos class")
    assert all(label != OUT_OF_SCOPE for label, _ in prediction.ranking)


def test_scores_include_out_of_scope_figures_only_when_the_data_has_some() -> None:
    plain = intent_scores(["a", "b", "b"], ["a", "b", "a"], [0.9, 0.8, 0.6], [1.0, 2.0, 3.0])
    assert plain["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert "oos_recall" not in plain
    mixed = intent_scores(
        ["a", OUT_OF_SCOPE, OUT_OF_SCOPE, "b"], ["a", OUT_OF_SCOPE, "b", OUT_OF_SCOPE], [0.9] * 4, [1.0] * 4
    )
    assert mixed["in_scope_accuracy"] == 0.5
    assert mixed["oos_recall"] == 0.5
    assert mixed["oos_precision"] == 0.5
    assert mixed["ms_per_query_p50"] == 1.0


@pytest.mark.slow
def test_a_classifier_trained_on_a_small_slice_beats_the_majority_baseline(tmp_path: Path) -> None:
    from intents.training import TrainingConfig, evaluate_intent_classifier, train_intent_classifier

    phrasings = {
        "refund": ["I want my money back", "refund please", "can I get a refund", "return my payment", "reimburse me"],
        "track": [
            "where is my parcel",
            "track my order",
            "when will it arrive",
            "delivery status",
            "where's my package",
        ],
        "password": [
            "reset my password",
            "forgot my password",
            "can't log in",
            "change password",
            "locked out of account",
        ],
    }
    train = tuple(
        Example(f"{text}{suffix}", intent)
        for intent, texts in phrasings.items()
        for text in texts
        for suffix in ("", "!", " now", "?")
    )
    validation = (
        Example("I need a refund", "refund"),
        Example("where is my order", "track"),
        Example("I forgot my password", "password"),
    )
    dataset = IntentDataset(train=train, validation=validation, source="inline")
    report = train_intent_classifier(
        dataset, tmp_path, TrainingConfig(epochs=6, batch_size=8, calibration_fraction=0.2, encoder_learning_rate=1e-4)
    )
    assert report.labels == ["password", "refund", "track"]
    classifier = EncoderIntentClassifier.load(tmp_path)
    scores = evaluate_intent_classifier(classifier, validation)
    assert scores["accuracy"] > 1 / 3  # the majority baseline on three balanced intents
    assert scores["accuracy"] == 1.0
    quantized = EncoderIntentClassifier.load(tmp_path, int8=True)
    assert [p.intent for p in quantized.predict([e.text for e in validation])] == ["refund", "track", "password"]
