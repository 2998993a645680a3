"""Small helpers the management commands share."""

from __future__ import annotations

from typing import Any


def cli_user() -> str:
    """Who ran a command, for audit fields ("cli:alice")."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name, e.g. in a container with an arbitrary uid
        return "cli"


def training_device(fallback: str) -> str:
    """CUDA when this machine has it, else `fallback` (the configured device)."""
    import torch  # heavy: loaded only by the commands that train

    return "cuda" if torch.cuda.is_available() else fallback


class ProgressBar:
    """A tqdm bar on the command's stderr that takes `(done, total[, figures])` callbacks."""

    def __init__(self, stream: Any, description: str, unit: str) -> None:
        from tqdm import tqdm  # a training-only dependency, loaded when a command shows progress

        self._bar: Any = tqdm(total=None, unit=unit, desc=description, file=stream, disable=None)

    def __call__(self, done: int, total: int, figures: dict[str, float] | None = None) -> None:
        self._bar.total = total
        self._bar.n = done
        if figures:
            self._bar.set_postfix(
                {name: f"{value:.3f}" if isinstance(value, float) else value for name, value in figures.items()}
            )
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
