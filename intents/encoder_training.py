"""The one trainer behind the intent and sentiment classifiers: a sentence encoder (by default the
bundled MiniLM) with a linear head over its mean-pooled output, fine-tuned end to end.

Each classifier's own trainer (`intents.training`, `intents.sentiment.training`) chooses its
examples and labels, calls `encoder_classifier_train`, calibrates the result on the examples it
held back, and writes its config file with `model_config_write`.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from intents.embeddings import bundled_minilm_path
from intents.progress import with_progress_log

Progress = Callable[[int, int, dict[str, float]], None]  # (step, total steps, figures)
BUNDLED_BASE = "sentence-transformers/all-MiniLM-L6-v2 (bundled)"


@dataclass
class EncoderTrainingConfig:
    """What every encoder classifier is trained with; each kind's config subclasses it with its
    own defaults and fields."""

    epochs: int = 3
    batch_size: int = 32
    encoder_learning_rate: float = 5e-5
    head_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    label_smoothing: float = 0.1
    max_length: int = 64
    # A stratified slice of the training part held back to calibrate on, so the validation split
    # stays untouched for the figures `evaluate` reports.
    calibration_fraction: float = 0.1
    seed: int = 13
    device: str = "cpu"
    base_model: str | None = None


@dataclass(kw_only=True)
class EncoderTrainingReport:
    examples_trained: int
    examples_calibration: int
    epochs: int
    seconds: float
    temperature: float
    losses: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class TrainedEncoder:
    """A fine-tuned model and its tokenizer, both already saved, with what training took."""

    model: Any  # intents.encoder.EncoderWithHead, in eval mode
    tokenizer: Any
    losses: list[float]
    started: float  # time.perf_counter() when training began

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 1)

    def loss_curve(self) -> list[float]:
        """About 50 of the step losses, evenly spaced, for the report."""
        return [round(x, 4) for x in self.losses[:: max(1, len(self.losses) // 50)]]


def encoder_classifier_train(
    texts: Sequence[str],
    targets: Sequence[int],
    *,
    num_labels: int,
    config: EncoderTrainingConfig,
    out_dir: Path,
    class_weights: Sequence[float] | None = None,
    progress: Progress | None = None,
) -> TrainedEncoder:
    """Fine-tune a new classifier on `texts` (target indices in `targets`) and save it with its
    tokenizer under `out_dir` (`encoder/` and the head), ready for the kind's `load`."""
    # torch and transformers take seconds to import: only training and serving a model need them.
    import torch

    from intents.encoder import EncoderWithHead, load_tokenizer

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    base = config.base_model
    model = EncoderWithHead.from_base(base, num_labels, config.device)
    tokenizer = load_tokenizer(base or str(bundled_minilm_path()))
    encoded = tokenizer(list(texts), truncation=True, max_length=config.max_length)["input_ids"]
    losses = fine_tune(
        model, encoded, targets, config, pad=tokenizer.pad_token_id or 0, class_weights=class_weights, progress=progress
    )
    model.eval()
    model.save(out_dir)
    tokenizer.save_pretrained(str(out_dir / "encoder"))
    return TrainedEncoder(model, tokenizer, losses, started)


def model_config_write(
    path: Path,
    fields: Mapping[str, Any],
    *,
    config: EncoderTrainingConfig,
    report: EncoderTrainingReport,
    data: Mapping[str, Any],
) -> None:
    """The model's config file: the kind's `fields` (kind, labels, temperature...), then what it
    was trained from and how, for `load` and for people."""
    path.write_text(
        json.dumps(
            {
                **fields,
                "base_model": config.base_model or BUNDLED_BASE,
                "trained_at": datetime.now(UTC).isoformat(),
                "data": dict(data),
                "config": asdict(config),
                "report": {k: v for k, v in asdict(report).items() if k != "losses"},
            },
            indent=2,
        )
    )


def fine_tune(
    model: Any,
    encoded: Sequence[Sequence[int]],
    targets: Sequence[int],
    how: EncoderTrainingConfig,
    *,
    pad: int,
    class_weights: Sequence[float] | None = None,
    progress: Progress | None = None,
) -> list[float]:
    """Fine-tune `model` (an EncoderWithHead) end to end on token ids and target indices: AdamW
    with separate rates for the encoder and the head, linear warm-up then linear decay, gradient
    clipping, batches of similar lengths. Returns the loss of every step."""
    import torch  # see encoder_classifier_train

    total_steps = math.ceil(len(encoded) / how.batch_size) * how.epochs
    progress = with_progress_log(progress, epochs=how.epochs)  # lines in the log off a terminal
    optimizer = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": how.encoder_learning_rate},
            {"params": model.head.parameters(), "lr": how.head_learning_rate},
        ],
        weight_decay=how.weight_decay,
    )
    warmup = max(1, int(total_steps * how.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total_steps - step) / total_steps)
    )
    weight = (
        torch.tensor(list(class_weights), dtype=torch.float32, device=how.device) if class_weights is not None else None
    )
    model.train()
    losses: list[float] = []
    step = 0
    for epoch in range(how.epochs):
        for batch in _length_bucketed_batches(encoded, how.batch_size, seed=how.seed + epoch):
            input_ids, attention = _pad([encoded[i] for i in batch], pad, how.device)
            loss = torch.nn.functional.cross_entropy(
                model(input_ids, attention),
                torch.tensor([targets[i] for i in batch], device=how.device),
                weight=weight,
                label_smoothing=how.label_smoothing,
            )
            optimizer_step(loss, model.parameters(), optimizer, scheduler)
            step += 1
            losses.append(float(loss.item()))
            if progress is not None:
                progress(step, total_steps, {"epoch": epoch + 1, "loss": float(np.mean(losses[-20:]))})
    return losses


def optimizer_step(loss: Any, parameters: Any, optimizer: Any, scheduler: Any) -> None:
    """One training step: back-propagate `loss`, clip the gradients to norm 1, step and reset."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


def _length_bucketed_batches(encoded: Sequence[Sequence[int]], batch_size: int, *, seed: int) -> list[list[int]]:
    """Batches of similar lengths (less padding, so faster on CPU), in a random order."""
    rng = random.Random(seed)
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _pad(sequences: Sequence[Sequence[int]], pad: int, device: str) -> tuple[Any, Any]:
    import torch  # see encoder_classifier_train

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    return ids.to(device), mask.to(device)
