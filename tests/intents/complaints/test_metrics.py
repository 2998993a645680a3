from __future__ import annotations

import pytest

from intents.complaints.metrics import category_scores


def test_category_scores_count_a_prediction_outside_the_labels_as_wrong() -> None:
    scores = category_scores(["delay", "delay", "booking"], ["delay", "waiting_time", "booking"], ["delay", "booking"])
    assert scores["accuracy"] == pytest.approx(0.6667, abs=1e-4)
    assert scores["f1_booking"] == 1.0
    assert scores["f1_delay"] == pytest.approx(0.6667, abs=1e-4)
