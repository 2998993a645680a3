"""Words as the retrieval and the verifier see them (`intents.words`)."""

from __future__ import annotations

from intents.words import stem, tokens


def test_accented_words_are_read_whole_without_their_accents() -> None:
    assert tokens("Is there a café? Ünder the naïve CAFÉS") == [
        "is",
        "there",
        "a",
        "cafe",
        "under",
        "the",
        "naive",
        "cafes",
    ]
    assert stem(tokens("Cafés")[0]) == stem("cafes")


def test_plain_text_keeps_its_words_numbers_and_apostrophes() -> None:
    assert tokens("Don\u2019t ship 2 lamps for €4.95") == ["don't", "ship", "2", "lamps", "for", "4.95"]
