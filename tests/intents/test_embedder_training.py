import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from intents.embedder_training import (
    LARGE_VOCABULARY,
    TRAINING_FILE,
    EmbedderTrainingConfig,
    EmbedderTrainingError,
    PhrasingGroup,
    _batches,
    _trainable,
    embedder_fine_tune,
    trained_fingerprint,
    training_fingerprint,
    training_pairs,
)
from intents.embeddings import SentenceTransformerEmbedder

# Three entries whose alternatives share few words with their question, so that the bundled
# MiniLM places them loosely and training has something to teach.
GROUPS = [
    PhrasingGroup(
        "How long does delivery take?",
        ("when will my parcel turn up", "how many days until the box arrives", "arrival time of my stuff"),
        "Standard delivery takes 2-3 business days.",
    ),
    PhrasingGroup(
        "Can I return an item?",
        ("send something back", "I don't want the lamp any more", "take back a purchase"),
        "You can return unused items within 30 days.",
    ),
    PhrasingGroup(
        "What payment methods do you accept?",
        ("can I use a card", "is Klarna ok", "ways to settle the bill"),
        "We accept Visa, Mastercard, PayPal and Klarna.",
    ),
]


def test_every_alternative_pairs_with_its_own_question_and_blank_or_repeated_ones_are_skipped() -> None:
    groups = [PhrasingGroup("Q one?", ("a", " ", "Q one?", "b")), PhrasingGroup("Q two?", ("c",), "Answer two.")]
    assert training_pairs(groups) == [(0, "a", "Q one?"), (0, "b", "Q one?"), (1, "c", "Q two?")]
    with_answers = training_pairs(groups, answers=True)
    assert (1, "Q two?", "Answer two.") in with_answers and (1, "c", "Answer two.") in with_answers
    assert not any(positive == "" for _, _, positive in with_answers)  # the first entry has no answer


def test_no_batch_holds_two_pairs_of_one_entry_and_every_pair_is_trained_once_per_epoch() -> None:
    pairs = [(entry, f"alt {entry}.{k}", f"q {entry}") for entry in range(7) for k in range(5)]
    batches = _batches(pairs, batch_size=4, rng=random.Random(1))
    for batch in batches:
        assert len({pairs[i][0] for i in batch}) == len(batch) <= 4
    used = sorted(i for batch in batches for i in batch)
    assert len(used) == len(set(used))
    assert len(used) >= len(pairs) - 4  # only a leftover batch of one pair (no negative) is dropped


def test_the_fingerprint_changes_with_the_phrasings_and_the_settings_but_not_the_device() -> None:
    config = EmbedderTrainingConfig()
    base = training_fingerprint(GROUPS, config)
    assert training_fingerprint(GROUPS, EmbedderTrainingConfig(device="cuda")) == base
    assert training_fingerprint(GROUPS, EmbedderTrainingConfig(epochs=2)) != base
    changed = [*GROUPS[:2], PhrasingGroup(GROUPS[2].question, (*GROUPS[2].alternatives, "do you take Amex"))]
    assert training_fingerprint(changed, config) != base
    assert training_fingerprint(GROUPS, config, ["tell me a joke"]) != base


def test_the_fingerprint_knows_a_local_base_model_by_its_files_not_by_where_it_lies(tmp_path: Path) -> None:
    def model_folder(where: Path, hidden_size: int) -> str:
        where.mkdir(parents=True)
        (where / "config.json").write_text(f'{{"hidden_size": {hidden_size}}}', encoding="utf-8")
        (where / "model.safetensors").write_bytes(b"0" * 64)
        return str(where)

    here = training_fingerprint(GROUPS, EmbedderTrainingConfig(base_model=model_folder(tmp_path / "a" / "e5", 384)))
    moved = training_fingerprint(GROUPS, EmbedderTrainingConfig(base_model=model_folder(tmp_path / "b" / "e5", 384)))
    other = training_fingerprint(GROUPS, EmbedderTrainingConfig(base_model=model_folder(tmp_path / "c" / "e5", 768)))
    assert moved == here
    assert other != here
    assert training_fingerprint(GROUPS, EmbedderTrainingConfig(base_model="intfloat/e5-small")) != here


def test_fine_tuning_needs_two_entries_with_alternatives(tmp_path: Path) -> None:
    with pytest.raises(EmbedderTrainingError, match="two entries"):
        embedder_fine_tune([GROUPS[0], PhrasingGroup("Lonely?", ())], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_fine_tuning_the_bundled_minilm_brings_alternatives_closer_to_their_own_question(tmp_path: Path) -> None:
    config = EmbedderTrainingConfig(
        epochs=8, batch_size=3, learning_rate=1e-4, warmup_fraction=0.0, off_topic_per_batch=2
    )
    off_topic = ["what is the capital of France", "tell me a joke", "who won the match last night"]
    report = embedder_fine_tune(GROUPS, tmp_path / "site", config, off_topic=off_topic)
    assert report.pairs == 9 and report.entries == 3 and report.steps == 8 * 3
    assert report.last_loss < report.first_loss
    fingerprint = training_fingerprint(GROUPS, config, off_topic)
    assert trained_fingerprint(tmp_path / "site") == report.fingerprint == fingerprint
    assert (tmp_path / TRAINING_FILE).exists() is False and (tmp_path / "site" / TRAINING_FILE).exists()

    def margins(embedder: SentenceTransformerEmbedder) -> float:
        """Mean over alternatives of (cosine to its own question - best cosine to another question)."""
        questions = embedder.encode([g.question for g in GROUPS])
        values = []
        for number, group in enumerate(GROUPS):
            similarities = embedder.encode(list(group.alternatives)) @ questions.T
            others = np.delete(similarities, number, axis=1).max(axis=1)
            values += list(similarities[:, number] - others)
        return float(np.mean(values))

    before = margins(SentenceTransformerEmbedder.load())
    trained = SentenceTransformerEmbedder.load(str(tmp_path / "site"))
    assert trained.dimension == 384
    assert margins(trained) > before + 0.1


def _tiny_encoder(vocabulary: int) -> Any:
    """BERT's parameter naming in small: token embeddings and one layer above them."""
    import torch

    return torch.nn.ModuleDict(
        {
            "embeddings": torch.nn.ModuleDict({"word_embeddings": torch.nn.Embedding(vocabulary, 2)}),
            "layer": torch.nn.Linear(2, 2),
        }
    )


def test_a_large_vocabulary_is_kept_as_it_is_and_the_layers_above_it_are_trained() -> None:
    large = _tiny_encoder(LARGE_VOCABULARY + 1)
    trained = _trainable(large, None)
    assert len(trained) == 2  # the layer's weight and bias
    assert not large["embeddings"]["word_embeddings"].weight.requires_grad
    small = _tiny_encoder(30_522)  # MiniLM's
    assert len(_trainable(small, None)) == 3
    assert len(_trainable(small, True)) == 2  # the setting overrides the rule either way
    assert len(_trainable(large, False)) == 3
