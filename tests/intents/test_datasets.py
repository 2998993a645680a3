"""The intent data set loaders, on the shared data sets and on small files made here."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from intents.datasets import OUT_OF_SCOPE, DatasetError, Example, load

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is not beside the project")


@needs_shared
def test_banking77_loads_77_intents_with_a_stratified_validation_split() -> None:
    data = load("banking77", SHARED / "banking77" / "train.csv")
    assert len(data.intents) == 77
    assert len(data.train) + len(data.validation) == 9_999  # 10,003 rows, 4 repeated texts
    assert 0.09 < len(data.validation) / 9_999 < 0.11
    assert set(Counter(e.intent for e in data.validation)) == set(data.intents)
    assert not data.has_out_of_scope
    assert not {e.text for e in data.train} & {e.text for e in data.validation}


@needs_shared
def test_clinc150_keeps_its_own_splits_and_marks_out_of_scope() -> None:
    data = load("clinc150", SHARED / "clinc150" / "data_full_train_val.json")
    assert len(data.intents) == 150
    assert len(data.train) == 15_100 and len(data.validation) == 3_100
    assert sum(not e.in_scope for e in data.validation) == 100
    assert data.evaluation_split() == data.validation


@needs_shared
def test_bitext_reads_the_instruction_and_intent_columns() -> None:
    data = load("bitext", SHARED / "bitext_customer_support" / "train.csv")
    assert len(data.intents) == 27
    assert all(e.text and e.intent for e in data.train[:50])


def test_a_generic_csv_loads_and_a_clinc_file_with_a_test_split_is_scored_on_it(tmp_path: Path) -> None:
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text(
        "text,intent\nwhere is my parcel,track\nwhen will it come,track\nrefund me,refund\nmoney back,refund\n"
    )
    data = load("csv", csv_file)
    assert data.intents == ("refund", "track")
    assert len(data.train) == 2 and len(data.validation) == 2

    clinc = tmp_path / "clinc.json"
    clinc.write_text('{"train": [["a", "x"]], "val": [["b", "x"]], "test": [["c", "x"]], "oos_test": [["d", "oos"]]}')
    data = load("clinc150", clinc)
    assert [e.text for e in data.evaluation_split()] == ["c", "d"]
    assert not data.evaluation_split()[1].in_scope and data.evaluation_split()[1].intent == OUT_OF_SCOPE


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("csv", "words,label\na,b\n", "missing column"),
        ("banking77", "text,category\n", "no examples"),
        ("clinc150", "[1, 2]", "CLINC150 layout"),
        ("clinc150", '{"train": [["a"]], "val": []}', re.escape("expected [text, intent]")),
        ("clinc150", "{not json", "Expecting property name"),
    ],
)
def test_a_malformed_file_gets_a_clear_error(tmp_path: Path, fmt: str, content: str, message: str) -> None:
    path = tmp_path / "data"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load(fmt, path)  # type: ignore[arg-type]


def test_a_missing_file_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        load("csv", tmp_path / "nope.csv")


def test_a_file_without_splits_of_its_own_is_scored_whole_unless_the_validation_split_is_asked_for(
    tmp_path: Path,
) -> None:
    """`intents evaluate --data TEST_FILE` scores every example of a separate test file."""
    csv_file = tmp_path / "test.csv"
    csv_file.write_text("text,intent\n" + "".join(f"question {n},intent{n % 3}\n" for n in range(30)))
    data = load("csv", csv_file)
    split, examples = data.evaluation_examples()
    assert split == "all" and sorted(e.text for e in examples) == sorted(f"question {n}" for n in range(30))
    assert data.evaluation_examples(validation_only=True) == ("validation", data.validation)
    assert len(data.validation) == 3

    clinc = tmp_path / "clinc.json"
    clinc.write_text('{"train": [["a", "x"]], "val": [["b", "x"]]}')
    assert load("clinc150", clinc).evaluation_examples() == ("validation", (Example("b", "x"),))
