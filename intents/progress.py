"""Progress of a training run for logs: a line every so often with the step, epoch, loss, time
taken and time left, for runs that no terminal watches (under nohup, in CI, in a Celery worker)
where a progress bar prints nothing.

The fine-tuning loops (`intents.encoder_training.fine_tune`, `intents.generation.finetuning`)
wrap their progress callback with `with_progress_log`, so every trainer logs the same way.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

Progress = Callable[[int, int, dict[str, float]], None]  # (step, total steps, figures)

logger = logging.getLogger("intents.training")
LOG_INTERVAL_S = 30.0


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class ProgressLog:
    """Calls `write` with a progress line on the first step, then at most every `interval_s`
    seconds, and on the last step:
    `training: step 120/940 (13%), epoch 1/3, loss 0.812, 1m05s elapsed, ETA 7m24s`."""

    def __init__(
        self,
        *,
        epochs: int,
        what: str = "training",
        interval_s: float = LOG_INTERVAL_S,
        write: Callable[[str], None] = logger.info,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.epochs = epochs
        self.what = what
        self.interval_s = interval_s
        self.write = write
        self.clock = clock
        self.started = clock()
        self.last: float | None = None
        self.steps_before: int | None = None  # a resumed run's steps done before this process

    def __call__(self, step: int, total: int, figures: dict[str, float]) -> None:
        now = self.clock()
        if self.steps_before is None:
            self.steps_before = max(0, step - 1)
        if self.last is not None and now - self.last < self.interval_s and step < total:
            return
        self.last = now
        elapsed = now - self.started
        done_here = step - self.steps_before
        left = elapsed / done_here * (total - step) if done_here > 0 else 0.0
        parts = [f"step {step}/{total} ({step / max(total, 1):.0%})"]
        if "epoch" in figures:
            parts.append(f"epoch {int(figures['epoch'])}/{self.epochs}")
        if "loss" in figures:
            parts.append(f"loss {figures['loss']:.4f}")
        parts.append(f"{_duration(elapsed)} elapsed")
        parts.append("done" if step >= total else f"ETA {_duration(left)}")
        self.write(f"{self.what}: " + ", ".join(parts))


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def with_progress_log(
    progress: Progress | None, *, epochs: int, what: str = "training", streams: Sequence[TextIO | None] | None = None
) -> Progress | None:
    """`progress`, plus progress lines in the log unless standard output and standard error are
    both terminals (`streams`, by default those two): a progress bar (tqdm, which the commands
    show on standard error) prints nothing to a file or a pipe."""
    if all(_is_terminal(stream) for stream in (streams if streams is not None else (sys.stdout, sys.stderr))):
        return progress
    log = ProgressLog(epochs=epochs, what=what)

    def both(step: int, total: int, figures: dict[str, float]) -> None:
        log(step, total, figures)
        if progress is not None:
            progress(step, total, figures)

    return both
