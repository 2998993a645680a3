"""Dialogue model speed: time to first token and decode speed on grounded prompts.

    python bench/dialogue_speed.py [--model smollm2|PATH] [--device cpu|cuda] [--threads 2] [--runs 30]

Each run asks one of the demo questions with its FAQ passage in the prompt (about 200 tokens,
the serving prompt), greedy, up to --max-new-tokens. Measured three ways, in the same process:
- `generate`: transformers' `model.generate()` with a streamer (the plain baseline);
- `loop`: the serving decode loop (`LocalGenerator`) without the prefix cache;
- `loop+prefix_cache`: the serving path, the passage's KV cache reused (each passage asked
  before, as in production where FAQ entries are cited again and again).
Prints one JSON object: per mode TTFT p50/p99 (ms), decode tokens/s p50, prompt tokens p50.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from intents.generation.local import LocalGenerator, PrefixCache, resolve_model_location  # noqa: E402
from intents.generation.prompting import PromptBuilder  # noqa: E402
from intents.generation.types import GenerationSettings  # noqa: E402
from intents.types import FaqDocument, Turn  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    faq = json.loads((ROOT / "chatbot/knowledge/demo_faq.json").read_text())
    questions = json.loads((ROOT / "chatbot/knowledge/demo_faq_questions.json").read_text())["in_scope"]
    by_question = {e["question"]: e for e in faq}
    location = resolve_model_location(args.model, args.cache_dir)
    generator = LocalGenerator.load(location, device=args.device)
    prompts = PromptBuilder(company="Lumen & Loom")
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    runs = [q for q in questions if q["question"] in by_question][: args.runs]
    cases = []
    for q in runs:
        entry = by_question[q["question"]]
        passage = FaqDocument(1, entry["question"], entry["answer"])
        cases.append(prompts.messages([Turn("customer", q["text"])], [passage]))

    def measure(start: Callable[[], Iterator[str]], ttft: list[float], speed: list[float]) -> None:
        """Time one streamed reply: to its first non-empty piece, and its decode speed after."""
        started = time.perf_counter()
        first = None
        text = ""
        for delta in start():
            if first is None and delta:
                first = time.perf_counter()
            text += delta
        end = time.perf_counter()
        tokens = len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
        if first is not None:
            ttft.append((first - started) * 1000)
            if tokens > 1 and end > first:
                speed.append((tokens - 1) / (end - first))

    def timed_loop(cache_size: int, warm: bool) -> dict[str, float | None]:
        generator.prefix_cache = PrefixCache(cache_size)
        if warm:
            for messages in cases:
                list(generator.stream(messages, GenerationSettings(max_new_tokens=1)))
        ttft, speed, lengths = [], [], []
        for messages in cases:
            lengths.append(len(generator.prompt_ids(messages)[0]))
            measure(lambda messages=messages: generator.stream(messages, settings), ttft, speed)
        return summary(ttft, speed, lengths)

    def timed_generate() -> dict[str, float | None]:
        from transformers import TextIteratorStreamer

        ttft, speed, lengths = [], [], []
        for messages in cases:
            ids, _ = generator.prompt_ids(messages)
            lengths.append(len(ids))
            streamer = TextIteratorStreamer(generator.tokenizer, skip_prompt=True, skip_special_tokens=True)
            inputs = torch.tensor([ids])
            worker = threading.Thread(
                target=generator.model.generate,
                kwargs={
                    "input_ids": inputs,
                    "attention_mask": torch.ones_like(inputs),
                    "max_new_tokens": args.max_new_tokens,
                    "do_sample": False,
                    "repetition_penalty": settings.repetition_penalty,
                    "streamer": streamer,
                },
            )

            def run(worker: threading.Thread = worker, streamer: TextIteratorStreamer = streamer) -> Iterator[str]:
                worker.start()
                yield from streamer
                worker.join()

            measure(run, ttft, speed)
        return summary(ttft, speed, lengths)

    results = {
        "model": str(args.model),
        "device": args.device,
        "threads": args.threads,
        "runs": len(cases),
        "max_new_tokens": args.max_new_tokens,
        "generate": timed_generate(),
        "loop": timed_loop(0, warm=False),
        "loop+prefix_cache": timed_loop(len(cases) + 1, warm=True),
    }
    print(json.dumps(results, indent=2))


def summary(ttft: list[float], speed: list[float], lengths: list[int]) -> dict[str, float | None]:
    return {
        "ttft_ms_p50": round(float(np.percentile(ttft, 50)), 1) if ttft else None,
        "ttft_ms_p99": round(float(np.percentile(ttft, 99)), 1) if ttft else None,
        "tokens_per_s_p50": round(float(np.percentile(speed, 50)), 1) if speed else None,
        "prompt_tokens_p50": float(np.percentile(lengths, 50)) if lengths else None,
    }


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
