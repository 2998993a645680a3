"""`LocalGenerator` on a tiny random Llama with the SmolLM2 tokenizer: the hand-written decode
loop must say exactly what transformers' own greedy `generate()` says, with or without the
prompt-prefix KV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from intents.generation.local import LocalGenerator, PrefixCache
from intents.generation.types import ChatMessage, GenerationError, GenerationSettings

SYSTEM = "You are the assistant of Lumen & Loom. FAQ passage:\nQ: Returns?\nA: Within 30 days of delivery."
OTHER_SYSTEM = "You are the assistant of Lumen & Loom. FAQ passage:\nQ: Shipping?\nA: 4.95 EUR, free over 60 EUR."
WITH_SYSTEM: list[ChatMessage] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Can I still send back the lamp I bought?"},
]
WITHOUT_SYSTEM: list[ChatMessage] = [{"role": "user", "content": "Hello, where is my parcel?"}]
SETTINGS = GenerationSettings(max_new_tokens=12)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path) -> LocalGenerator:
    """Loaded once per module; tests wrap its model in generators of their own (fresh caches)."""
    return LocalGenerator.load(tiny_model_dir, name="tiny")


def _generator(loaded: LocalGenerator, cache_size: int = 8) -> LocalGenerator:
    return LocalGenerator(loaded.model, loaded.tokenizer, "tiny", prefix_cache=PrefixCache(cache_size))


def _reply(generator: LocalGenerator, messages: list[ChatMessage], settings: GenerationSettings = SETTINGS) -> str:
    return "".join(generator.stream(messages, settings))


def _greedy_generate(generator: LocalGenerator, messages: list[ChatMessage], settings: GenerationSettings) -> str:
    """The reference: transformers' `generate()` on the same prompt ids, cut at the first stop token."""
    import torch

    ids, _ = generator.prompt_ids(messages)
    output: Any = generator.model.generate(
        torch.tensor([ids]),
        attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
        max_new_tokens=settings.max_new_tokens,
        do_sample=False,
        repetition_penalty=settings.repetition_penalty,
    )
    new = output[0, len(ids) :].tolist()
    stops = generator._stop_ids()
    end = next((i for i, token in enumerate(new) if token in stops), len(new))
    return str(generator.tokenizer.decode(new[:end], skip_special_tokens=True))


@pytest.mark.parametrize("messages", [WITH_SYSTEM, WITHOUT_SYSTEM], ids=["cached-system-prefix", "no-system"])
def test_streamed_deltas_join_to_what_greedy_generate_decodes(
    loaded: LocalGenerator, messages: list[ChatMessage]
) -> None:
    generator = _generator(loaded)
    deltas = list(generator.stream(messages, SETTINGS))
    assert all(deltas), "an empty delta was streamed"
    reference = _greedy_generate(generator, messages, SETTINGS)
    assert reference.strip(), "the tiny model should say something, or this comparison proves nothing"
    assert "".join(deltas) == reference


def test_max_new_tokens_bounds_the_reply(loaded: LocalGenerator) -> None:
    generator = _generator(loaded)
    short = GenerationSettings(max_new_tokens=4)
    deltas = list(generator.stream(WITH_SYSTEM, short))
    assert 1 <= len(deltas) <= 4  # at most one delta per decoded token
    assert "".join(deltas) == _greedy_generate(generator, WITH_SYSTEM, short)
    assert _reply(generator, WITH_SYSTEM).startswith("".join(deltas))


def test_the_same_system_message_reuses_its_cached_prefix_and_says_the_same(loaded: LocalGenerator) -> None:
    cached, uncached = _generator(loaded, cache_size=8), _generator(loaded, cache_size=0)
    follow_up: list[ChatMessage] = [WITH_SYSTEM[0], {"role": "user", "content": "What about a refund?"}]

    first = _reply(cached, WITH_SYSTEM)
    assert (cached.prefix_cache.hits, cached.prefix_cache.misses, len(cached.prefix_cache)) == (0, 1, 1)
    again = _reply(cached, WITH_SYSTEM)
    other_question = _reply(cached, follow_up)
    assert cached.prefix_cache.hits == 2
    assert len(cached.prefix_cache) == 1

    assert first == again == _reply(uncached, WITH_SYSTEM)
    assert other_question == _reply(uncached, follow_up)
    assert len(uncached.prefix_cache) == 0


def test_different_system_messages_miss_the_prefix_cache(loaded: LocalGenerator) -> None:
    generator = _generator(loaded)
    _reply(generator, WITH_SYSTEM)
    _reply(generator, [{"role": "system", "content": OTHER_SYSTEM}, WITH_SYSTEM[1]])
    assert (generator.prefix_cache.hits, generator.prefix_cache.misses, len(generator.prefix_cache)) == (0, 2, 2)


def test_a_prompt_without_a_system_message_is_not_cached(loaded: LocalGenerator) -> None:
    generator = _generator(loaded)
    _, prefix_length = generator.prompt_ids(WITHOUT_SYSTEM)
    _reply(generator, WITHOUT_SYSTEM)
    assert prefix_length == 0
    assert len(generator.prefix_cache) == 0


def test_the_prefix_cache_drops_the_least_recently_used_entry_beyond_capacity() -> None:
    cache = PrefixCache(2)
    cache.put((1,), "one")
    cache.put((2,), "two")
    assert cache.get((1,)) == "one"  # (1,) is now the most recently used
    cache.put((3,), "three")
    assert len(cache) == 2
    assert cache.get((2,)) is None
    assert cache.get((1,)) == "one"
    assert cache.get((3,)) == "three"
    assert (cache.hits, cache.misses) == (3, 1)


def test_a_generator_with_room_for_one_prefix_forgets_the_older_system_message(loaded: LocalGenerator) -> None:
    generator = _generator(loaded, cache_size=1)
    other: list[ChatMessage] = [{"role": "system", "content": OTHER_SYSTEM}, WITH_SYSTEM[1]]
    _reply(generator, WITH_SYSTEM, GenerationSettings(max_new_tokens=1))
    _reply(generator, other, GenerationSettings(max_new_tokens=1))
    _reply(generator, WITH_SYSTEM, GenerationSettings(max_new_tokens=1))
    assert (generator.prefix_cache.hits, generator.prefix_cache.misses) == (0, 3)


def test_a_prompt_longer_than_the_model_budget_is_a_generation_error(loaded: LocalGenerator) -> None:
    generator = _generator(loaded)
    huge: list[ChatMessage] = [{"role": "system", "content": "word " * 2000}, WITH_SYSTEM[1]]
    with pytest.raises(GenerationError, match="longer than the model's budget"):
        _reply(generator, huge)


def test_asking_for_cuda_without_cuda_is_a_generation_error(tiny_model_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(GenerationError, match="CUDA is not available"):
        LocalGenerator.load(tiny_model_dir, device="cuda")
