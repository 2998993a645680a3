"""The shared labelled data sets (../shared/datasets, see its README) that tests train or measure on."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
AIRLINE = SHARED_DATASETS / "airline_sentiment" / "train.csv"


@pytest.fixture
def airline_csv() -> Path:
    """The airline tweets, or the test is skipped where the file is not here."""
    if not AIRLINE.is_file():
        pytest.skip(f"{AIRLINE} is not here (see ../shared/datasets/README.md)")
    return AIRLINE
