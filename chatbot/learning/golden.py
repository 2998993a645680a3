"""Frozen golden sets: the examples every candidate and the active model of a kind are scored on.

A golden set is built from the data the first time a kind is retrained, written to a JSONL file
under CHATBOT_LEARNING_DIR and recorded with its checksum; from then on it is only read, and a
file that no longer matches its checksum stops the run instead of quietly moving the goalposts.
`manage.py learning golden --rebuild KIND` replaces one deliberately (figures before and after are
then not comparable).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from chatbot.learning.models import GoldenSet
from intents.learning import golden_questions


class GoldenSetError(RuntimeError):
    """A golden set is missing, altered or cannot be built; the message says which and why."""


def golden_rows(
    *, kind: str, scope: str, build: Callable[[], tuple[list[dict[str, Any]], str]]
) -> list[dict[str, Any]]:
    """The golden set of `kind` (and `scope`): read and verified, or built by `build` (which
    returns the rows and a description of where they came from) and frozen on first use."""
    existing = GoldenSet.objects.filter(kind=kind, scope=scope).first()
    if existing is None:
        rows, source = build()
        if not rows:
            raise GoldenSetError(f"No {kind} golden set could be built: {source}")
        existing = _freeze(kind=kind, scope=scope, rows=rows, source=source)
    return _read_verified(existing)


def golden_questions_frozen() -> set[str]:
    """The questions of every frozen golden set, each file verified against its checksum."""
    return set().union(*(golden_questions(_read_verified(golden)) for golden in GoldenSet.objects.all()))


def golden_set_forget(*, kind: str, scope: str = "") -> bool:
    """Drop a golden set (its file is kept, renamed); the next run builds a new one."""
    existing = GoldenSet.objects.filter(kind=kind, scope=scope).first()
    if existing is None:
        return False
    path = Path(existing.path)
    if path.exists():
        path.rename(path.with_suffix(f".replaced-{existing.sha256[:8]}.jsonl"))
    existing.delete()
    return True


def _file_for(kind: str, scope: str) -> Path:
    name = kind + (f"-{scope.replace(':', '-')}" if scope else "")
    return Path(settings.CHATBOT_LEARNING_DIR) / "golden" / f"{name}.jsonl"


def _freeze(*, kind: str, scope: str, rows: list[dict[str, Any]], source: str) -> GoldenSet:
    path = _file_for(kind, scope)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode()
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(body)
    temporary.replace(path)
    try:
        with transaction.atomic():
            return GoldenSet.objects.create(
                kind=kind,
                scope=scope,
                path=str(path.resolve()),
                sha256=hashlib.sha256(body).hexdigest(),
                examples=len(rows),
                source=source[:500],
            )
    except IntegrityError:  # another run froze it first: use theirs
        return GoldenSet.objects.get(kind=kind, scope=scope)


def _read_verified(golden: GoldenSet) -> list[dict[str, Any]]:
    path = Path(golden.path)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise GoldenSetError(
            f"The {golden} file {path} cannot be read ({exc}); restore it, or rebuild it with "
            f"`manage.py learning golden --rebuild {golden.kind}`."
        ) from exc
    if hashlib.sha256(body).hexdigest() != golden.sha256:
        raise GoldenSetError(
            f"The {golden} file {path} changed since it was frozen; restore it, or rebuild it with "
            f"`manage.py learning golden --rebuild {golden.kind}`."
        )
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]
