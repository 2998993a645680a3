"""Hybrid retrieval (`intents.hybrid`): dense, lexical and coverage evidence fused by a reranker,
and the off-topic model; with a cheap hashing embedder, so only the fusion is under test."""

from __future__ import annotations

import numpy as np
import pytest

from intents.embeddings import CharacterNgramEmbedder
from intents.hybrid import (
    DEFAULT_RERANKER,
    DEFAULT_RERANKER_ZH,
    DEFAULT_RERANKER_ZH_E5,
    FEATURES,
    HybridIndex,
    Reranker,
    default_reranker,
    embedded_texts,
    encoder_name,
    off_topic_corpus,
)
from intents.languages import CHINESE, ENGLISH
from intents.lexical import LexicalIndex, lexical_tokens
from intents.types import FaqDocument
from tests.intents.generation.conftest import HashingEmbedder

FAQ = [
    FaqDocument(1, "What payment methods do you accept?", "We accept Visa, Mastercard, PayPal and Klarna."),
    FaqDocument(2, "How long does delivery take?", "Standard delivery takes 2-3 business days."),
    FaqDocument(3, "Can I return an item?", "You can return most items within 30 days.", ("send something back",)),
]


@pytest.fixture
def index() -> HybridIndex:
    embedder = HashingEmbedder()
    return HybridIndex.build(FAQ, embedder, off_topic_vectors=embedder.encode(off_topic_corpus()))


def test_every_entry_is_embedded_as_phrasings_answer_and_answer_sentences() -> None:
    assert embedded_texts(FAQ[2]) == [
        "Can I return an item?",
        "send something back",
        "You can return most items within 30 days.",
        "You can return most items within 30 days.",
    ]


def test_a_word_only_the_answer_holds_finds_its_entry(index: HybridIndex) -> None:
    embedder = HashingEmbedder()
    query = "klarna"
    [best] = index.retrieve(query, embedder.encode([query])[0], k=1)
    assert best.document.id == 1


def test_features_come_one_row_per_entry_in_the_reranker_order(index: HybridIndex) -> None:
    embedder = HashingEmbedder()
    features = index.features("return window", embedder.encode(["return window"])[0])
    assert features.shape == (len(FAQ), len(FEATURES))
    uncovered = features[:, FEATURES.index("uncovered")]
    assert uncovered[2] < uncovered[0]  # the returns entry has the question's words


def test_scores_are_probabilities_best_first(index: HybridIndex) -> None:
    embedder = HashingEmbedder()
    matches = index.retrieve("delivery days", embedder.encode(["delivery days"])[0], k=3)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert matches[0].document.id == 2


def test_reranker_weights_round_trip_and_refuse_another_feature_set() -> None:
    assert Reranker.from_json(DEFAULT_RERANKER.to_json()) == DEFAULT_RERANKER
    with pytest.raises(ValueError, match="features"):
        Reranker.from_json({**DEFAULT_RERANKER.to_json(), "features": ["dense"]})


def test_a_fitted_reranker_records_the_encoder_it_was_fit_over_and_fits_only_that_one() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, len(FEATURES)))
    fine_tuned = encoder_name("/srv/models/multilingual-e5-small", fine_tuned=True)
    reranker = Reranker.fit(features, (features[:, 0] > 0).astype(np.int64), encoder=fine_tuned)
    assert reranker.encoder == "multilingual-e5-small (fine-tuned)"
    assert Reranker.from_json(reranker.to_json()) == reranker
    # Its folder moved, or the site's encoder trained again: the same fine-tuned e5.
    assert reranker.fits(encoder_name("/elsewhere/multilingual-e5-small", fine_tuned=True))
    assert not reranker.fits(encoder_name("/srv/models/multilingual-e5-small"))  # the base model
    assert not reranker.fits(encoder_name(CharacterNgramEmbedder.model_name))
    assert Reranker.from_json({k: v for k, v in reranker.to_json().items() if k != "encoder"}).fits("anything")


def test_the_shipped_chinese_reranker_follows_the_encoder_the_deployment_embeds_chinese_with() -> None:
    assert default_reranker(CHINESE, "/srv/var/models/multilingual-e5-small") == DEFAULT_RERANKER_ZH_E5
    assert default_reranker(CHINESE, "multilingual-e5-small (fine-tuned)") == DEFAULT_RERANKER_ZH_E5
    assert default_reranker(CHINESE, CharacterNgramEmbedder.model_name) == DEFAULT_RERANKER_ZH
    assert default_reranker(ENGLISH, "/srv/var/models/multilingual-e5-small") == DEFAULT_RERANKER


def test_a_fitted_reranker_learns_which_feature_tells_the_answer() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, len(FEATURES)))
    labels = (features[:, 0] > 0.5).astype(np.int64)
    reranker = Reranker.fit(features, labels)
    assert int(np.argmax(np.abs(reranker.weights))) == 0


def test_vectors_that_do_not_match_the_layout_are_refused() -> None:
    with pytest.raises(ValueError, match="vectors for"):
        HybridIndex.from_vectors([(FAQ[0], np.zeros((1, 64), dtype=np.float32))])


def test_the_off_topic_model_tells_the_sites_questions_from_generic_chatter(index: HybridIndex) -> None:
    embedder = HashingEmbedder()
    on_topic = index.off_topic_probability(embedder.encode(["how long does delivery take?"])[0])
    off_topic = index.off_topic_probability(embedder.encode([off_topic_corpus()[0]])[0])
    assert on_topic is not None and off_topic is not None and on_topic < off_topic


def test_lexical_scores_ignore_stopwords_and_word_endings() -> None:
    assert lexical_tokens("What are the deliveries?") == ["deliveri"]
    lexical = LexicalIndex(["Klarna and PayPal", "delivery days"])
    assert lexical.scores("the")[0] == 0
    assert lexical.scores("klarna").argmax() == 0
