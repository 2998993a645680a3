"""Fine-tuning the tiny random Llama: the loss falls, full and LoRA runs save a folder that serving
loads, only answer tokens are trained on, and an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intents.generation.data import DialogueExample
from intents.generation.finetuning import (
    CHECKPOINT_DIR,
    REPORT_FILE,
    FinetuneConfig,
    FinetuneReport,
    encode_example,
    finetune,
)
from intents.generation.local import LocalGenerator
from intents.generation.prompting import PromptBuilder
from intents.generation.types import ChatMessage, GenerationSettings
from intents.types import Turn
from tests.intents.generation.conftest import SHOP_FAQ

EXAMPLES = [
    DialogueExample("Can I send back a lamp?", (SHOP_FAQ[0],), "Yes, within 30 days of delivery."),
    DialogueExample("How do I reach you?", (SHOP_FAQ[1],), "Mail help@lumenloom.shop."),
    DialogueExample("What does delivery cost?", (SHOP_FAQ[2],), "Shipping costs 4.95 EUR."),
] * 2


def _config(**changes: object) -> FinetuneConfig:
    config = FinetuneConfig(batch_size=2, epochs=10, lora=False, learning_rate=5e-3, warmup_fraction=0.0, seed=3)
    for name, value in changes.items():
        setattr(config, name, value)
    return config


def _says_something(folder: Path) -> None:
    generator = LocalGenerator.load(folder, name="tuned")
    messages: list[ChatMessage] = [{"role": "user", "content": "Hello"}]
    list(generator.stream(messages, GenerationSettings(max_new_tokens=3)))


@pytest.mark.slow
def test_full_fine_tuning_lowers_the_loss_and_saves_a_loadable_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    report = finetune(
        EXAMPLES, tiny_model_dir, tmp_path, _config(max_steps=20), progress=lambda s, t, f: seen.append(s)
    )

    assert (report.steps, len(report.losses), report.resumed_from_step) == (20, 20, 0)
    assert seen == list(range(1, 21))
    first, last = sum(report.losses[:3]) / 3, sum(report.losses[-3:]) / 3
    assert last < 0.5 * first, report.losses
    assert json.loads((tmp_path / REPORT_FILE).read_text())["steps"] == 20
    assert not (tmp_path / CHECKPOINT_DIR).exists()
    _says_something(tmp_path)


@pytest.mark.slow
def test_lora_fine_tuning_saves_one_merged_model_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors import safe_open

    report = finetune(EXAMPLES, tiny_model_dir, tmp_path, _config(lora=True, lora_rank=4, max_steps=4))

    assert report.steps == 4
    assert not list(tmp_path.glob("adapter*"))
    with (
        safe_open(str(tmp_path / "model.safetensors"), "pt") as tuned,
        safe_open(str(tiny_model_dir / "model.safetensors"), "pt") as base,
    ):
        assert set(tuned.keys()) == set(base.keys())  # no LoRA tensors left over
        name = "model.layers.0.self_attn.q_proj.weight"
        assert not tuned.get_tensor(name).equal(base.get_tensor(name))  # the adapters were merged in
    _says_something(tmp_path)


def test_only_the_answer_and_the_end_of_turn_are_labelled(tiny_model_dir: Path) -> None:
    generator = LocalGenerator.load(tiny_model_dir)
    tokenizer, prompts, example = generator.tokenizer, PromptBuilder(), EXAMPLES[0]

    encoded = encode_example(tokenizer, prompts, example, FinetuneConfig())

    # The training prompt is the serving prompt, token for token.
    prompt_ids, _ = generator.prompt_ids(prompts.messages([Turn("customer", example.question)], example.passages))
    answer = list(tokenizer(example.answer, add_special_tokens=False)["input_ids"])
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert encoded["input_ids"] == [*prompt_ids, *answer, end]
    assert encoded["labels"] == [-100] * len(prompt_ids) + [*answer, end]


def test_a_long_prompt_loses_its_start_and_a_tiny_budget_is_refused(tiny_model_dir: Path) -> None:
    tokenizer = LocalGenerator.load(tiny_model_dir).tokenizer
    encoded = encode_example(tokenizer, PromptBuilder(), EXAMPLES[0], FinetuneConfig(max_length=40))
    answer_length = len(tokenizer(EXAMPLES[0].answer, add_special_tokens=False)["input_ids"]) + 1
    assert len(encoded["input_ids"]) == 40
    assert encoded["labels"].count(-100) == 40 - answer_length
    with pytest.raises(ValueError, match="no room for the prompt"):
        encode_example(tokenizer, PromptBuilder(), EXAMPLES[0], FinetuneConfig(max_length=answer_length + 15))


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_last_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = _config(max_steps=4, checkpoint_every=1)
    uninterrupted = finetune(EXAMPLES, tiny_model_dir, tmp_path / "whole", config)

    def stop_at_step_3(step: int, total: int, figures: dict[str, float]) -> None:
        if step == 3:  # after step 2's checkpoint, before step 3's
            raise Interrupted

    interrupted = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        finetune(EXAMPLES, tiny_model_dir, interrupted, config, progress=stop_at_step_3)
    assert (interrupted / CHECKPOINT_DIR / "state.pt").exists()

    steps: list[int] = []
    config.resume = True
    resumed: FinetuneReport = finetune(
        EXAMPLES, tiny_model_dir, interrupted, config, progress=lambda s, t, f: steps.append(s)
    )

    assert (resumed.resumed_from_step, resumed.steps, steps) == (2, 4, [3, 4])
    assert resumed.losses == pytest.approx(uninterrupted.losses, abs=2e-4)
    assert not (interrupted / CHECKPOINT_DIR).exists()
