"""The airline complaints as labelled data in this taxonomy."""

from __future__ import annotations

from pathlib import Path

from intents.complaints.taxonomy import OTHER
from intents.complaints.training import load_airline_complaints


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
