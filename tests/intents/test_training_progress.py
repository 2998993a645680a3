"""Training runs off a terminal log their progress (step, epoch, loss, time left) at intervals."""

from __future__ import annotations

import io
from typing import Any

from intents.progress import ProgressLog, with_progress_log


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_the_first_step_then_every_interval_and_at_the_end() -> None:
    clock, lines = Clock(), []
    log = ProgressLog(epochs=2, interval_s=30, write=lines.append, clock=clock)
    for step in range(1, 201):
        clock.now += 0.5  # 100 s for 200 steps
        log(step, 200, {"epoch": 1 + (step > 100), "loss": 1.0 / step})
    assert lines[0] == "training: step 1/200 (0%), epoch 1/2, loss 1.0000, 0m00s elapsed, ETA 1m40s"
    assert lines[1] == "training: step 61/200 (30%), epoch 1/2, loss 0.0164, 0m30s elapsed, ETA 1m10s"
    assert lines[-1] == "training: step 200/200 (100%), epoch 2/2, loss 0.0050, 1m40s elapsed, done"
    assert len(lines) == 5  # steps 1, 61, 121, 181 and 200


def test_a_resumed_run_counts_its_time_left_from_the_steps_it_does_itself() -> None:
    clock, lines = Clock(), []
    log = ProgressLog(epochs=1, interval_s=0, write=lines.append, clock=clock, what="fine-tuning")
    for step in range(51, 53):  # resumed at step 50 of 100
        clock.now += 2.0
        log(step, 100, {"loss": 0.5})
    assert lines[-1] == "fine-tuning: step 52/100 (52%), loss 0.5000, 0m04s elapsed, ETA 1m36s"


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def test_progress_is_logged_unless_both_outputs_are_terminals(caplog: Any) -> None:
    seen: list[int] = []

    def bar(step: int, total: int, figures: dict[str, float]) -> None:
        seen.append(step)

    assert with_progress_log(bar, epochs=1, streams=(Stream(True), Stream(True))) is bar
    for streams in ((Stream(False), Stream(True)), (Stream(True), Stream(False)), (Stream(False), Stream(False))):
        caplog.clear()
        wrapped = with_progress_log(bar, epochs=1, streams=streams)
        assert wrapped is not None and wrapped is not bar
        with caplog.at_level("INFO", logger="intents.training"):
            wrapped(1, 10, {"epoch": 1, "loss": 2.0})
        assert [r.getMessage() for r in caplog.records] == [
            "training: step 1/10 (10%), epoch 1/1, loss 2.0000, 0m00s elapsed, ETA 0m00s"
        ]
    assert seen == [1, 1, 1]  # the bar still gets every step
    logged_only = with_progress_log(None, epochs=1, streams=(Stream(False), Stream(False)))
    assert logged_only is not None
