from __future__ import annotations

import pytest

from intents.sentiment.scorers import LexiconSentimentScorer


@pytest.fixture(scope="module")
def lexicon() -> LexiconSentimentScorer:
    return LexiconSentimentScorer()


def test_the_lexicon_tells_praise_from_complaint(lexicon: LexiconSentimentScorer) -> None:
    praise, complaint, plain = lexicon.score(
        ["Thank you so much, great service!", "This is terrible, my bag is lost and nobody helps", "Flight 12 to Oslo"]
    )
    assert (praise.label, complaint.label, plain.label) == ("positive", "negative", "neutral")
    assert praise.score > 0.5 > plain.score == 0.0 > -0.3 > complaint.score


def test_lexicon_probabilities_sum_to_one_even_for_an_empty_text(lexicon: LexiconSentimentScorer) -> None:
    for result in lexicon.score(["", "great", "awful"]):
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert -1.0 <= result.score <= 1.0
