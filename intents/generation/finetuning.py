"""Fine-tuning the dialogue model on (question, passage, answer) examples.

The training prompt is the serving prompt (`PromptBuilder`), so the model learns exactly the
task it is used for; the loss is on the answer tokens only. LoRA adapters (peft) train a few
percent of the weights and are merged into the model at the end, so serving loads one plain
folder. Checkpoints (weights, optimiser, step) are written every `checkpoint_every` steps and at
each epoch's end; `resume=True` continues from the last one.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from intents.generation.data import DialogueExample
from intents.generation.prompting import PromptBuilder
from intents.progress import with_progress_log

Progress = Callable[[int, int, dict[str, float]], None]  # (step, total steps, figures)
CHECKPOINT_DIR = "checkpoint"
REPORT_FILE = "training.json"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class FinetuneConfig:
    epochs: int = 1
    batch_size: int = 4
    learning_rate: float | None = None  # default: 2e-4 with LoRA, 3e-5 for all weights
    weight_decay: float = 0.0
    warmup_fraction: float = 0.05
    max_length: int = 512  # tokens; longer examples lose the end of their answer
    max_answer_tokens: int = 192
    lora: bool = True
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    seed: int = 7
    device: str = "cpu"
    checkpoint_every: int = 50
    resume: bool = False
    max_steps: int | None = None  # stop early (tests, quick trials)


@dataclass
class FinetuneReport:
    examples: int
    steps: int
    epochs: int
    seconds: float
    final_loss: float
    losses: list[float] = field(default_factory=list)
    resumed_from_step: int = 0
    config: dict[str, Any] = field(default_factory=dict)


def encode_example(
    tokenizer: Any, prompts: PromptBuilder, example: DialogueExample, config: FinetuneConfig
) -> dict[str, list[int]]:
    """Prompt tokens (label -100) followed by the answer tokens and the end of turn."""
    from intents.types import Turn

    messages = prompts.messages([Turn("customer", example.question)], example.passages)
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    answer_ids = list(tokenizer(example.answer, add_special_tokens=False)["input_ids"])[: config.max_answer_tokens]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    end_ids = [end] if isinstance(end, int) and end >= 0 else [tokenizer.eos_token_id]
    budget = config.max_length - len(answer_ids) - len(end_ids)
    if budget < 16:
        raise ValueError("max_length leaves no room for the prompt")
    prompt_ids = prompt_ids[-budget:] if len(prompt_ids) > budget else prompt_ids
    ids = prompt_ids + answer_ids + end_ids
    labels = [-100] * len(prompt_ids) + answer_ids + end_ids
    return {"input_ids": ids, "labels": labels}


def finetune(
    examples: Sequence[DialogueExample],
    base: str | Path,
    out_dir: Path | str,
    config: FinetuneConfig,
    *,
    prompts: PromptBuilder | None = None,
    progress: Progress | None = None,
) -> FinetuneReport:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

    started = time.perf_counter()
    prompts = prompts or PromptBuilder()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / CHECKPOINT_DIR
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {config.device!r} asked for, but CUDA is not available")

    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model: Any = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32, local_files_only=True)
    if config.lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=LORA_TARGETS,
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    model.to(config.device)
    model.train()

    encoded = [encode_example(tokenizer, prompts, example, config) for example in examples]
    if not encoded:
        raise ValueError("no training examples")
    batches_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total_steps = batches_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    progress = with_progress_log(progress, epochs=config.epochs, what="fine-tuning")  # log lines off a terminal
    learning_rate = config.learning_rate or (2e-4 if config.lora else 3e-5)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, max(1, int(config.warmup_fraction * total_steps)), max(1, total_steps)
    )

    step = 0
    resumed_from = 0
    losses: list[float] = []
    state_file = checkpoint / "state.pt"
    if config.resume and state_file.exists():
        state = torch.load(state_file, map_location=config.device, weights_only=False)
        _load_trainable(model, state["weights"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = resumed_from = int(state["step"])
        losses = list(state["losses"])
        random.setstate(state["python_random"])

    order_rng = random.Random(config.seed)
    for epoch in range(config.epochs):
        # Length-bucketed batches (less padding), in a new random order each epoch.
        indices = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]["input_ids"]), order_rng.random()))
        batches = [indices[i : i + config.batch_size] for i in range(0, len(indices), config.batch_size)]
        order_rng.shuffle(batches)
        for position, batch in enumerate(batches):
            global_index = epoch * batches_per_epoch + position
            if global_index < step:
                continue  # done before the resume point
            if config.max_steps and step >= config.max_steps:
                break
            input_ids, labels, attention = _collate([encoded[i] for i in batch], tokenizer.pad_token_id)
            loss = _answer_loss(
                model, input_ids.to(config.device), attention.to(config.device), labels.to(config.device)
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(round(float(loss.item()), 4))
            if progress:
                progress(step, total_steps, {"loss": losses[-1], "epoch": epoch + 1})
            if step % config.checkpoint_every == 0 or position == len(batches) - 1:
                _save_checkpoint(checkpoint, model, optimizer, scheduler, step, losses)

    if config.lora:
        model = model.merge_and_unload()
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    report = FinetuneReport(
        examples=len(encoded),
        steps=step,
        epochs=config.epochs,
        seconds=round(time.perf_counter() - started, 1),
        final_loss=sum(losses[-20:]) / max(1, len(losses[-20:])),
        losses=losses,
        resumed_from_step=resumed_from,
        config={**asdict(config), "learning_rate": learning_rate, "base": str(base)},
    )
    (out_dir / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2))
    shutil.rmtree(checkpoint, ignore_errors=True)
    return report


def _answer_loss(model: Any, input_ids: Any, attention: Any, labels: Any) -> Any:
    """Next-token cross-entropy over the answer tokens only.

    The vocabulary projection (49k words for SmolLM2) runs on the answer positions alone instead
    of every position of the batch: on CPU, materialising the full logits tensor (hundreds of MB
    per batch) and its gradient is what dominates a step."""
    import torch

    output = model(input_ids=input_ids, attention_mask=attention, output_hidden_states=True, logits_to_keep=1)
    hidden = output.hidden_states[-1][:, :-1, :]  # the final (normalised) hidden states
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.get_output_embeddings()(hidden[keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def _collate(items: Sequence[dict[str, list[int]]], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(item["input_ids"]) for item in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        length = len(item["input_ids"])
        ids[row, :length] = torch.tensor(item["input_ids"])
        labels[row, :length] = torch.tensor(item["labels"])
        attention[row, :length] = 1
    return ids, labels, attention


def _trainable_state(model: Any) -> dict[str, Any]:
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model: Any, weights: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in weights:
                parameter.copy_(weights[name].to(parameter.device))


def _save_checkpoint(
    directory: Path, model: Any, optimizer: Any, scheduler: Any, step: int, losses: list[float]
) -> None:
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / "state.pt.partial"
    torch.save(
        {
            "weights": _trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "losses": losses,
            "python_random": random.getstate(),
        },
        partial,
    )
    partial.replace(directory / "state.pt")
