"""Intent data sets in the formats the desk trains on: BANKING77 CSV, CLINC150 JSON, Bitext CSV,
and a generic `text,intent` CSV. Each loader returns labelled examples split into train and
validation (and test where the file has one); out-of-scope examples carry the label `OUT_OF_SCOPE`.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Literal, TypeVar

OUT_OF_SCOPE = "oos"
Format = Literal["banking77", "clinc150", "bitext", "csv"]
FORMATS: tuple[Format, ...] = ("banking77", "clinc150", "bitext", "csv")


class DatasetError(ValueError):
    """The file is missing, unreadable or not in the announced format; the message says why."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str

    @property
    def in_scope(self) -> bool:
        return self.intent != OUT_OF_SCOPE


@dataclass(frozen=True)
class IntentDataset:
    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    test: tuple[Example, ...] = ()
    source: str = ""
    notes: tuple[str, ...] = field(default=())
    # The loader held `validation` out of a file without splits of its own (a CSV), rather than the
    # file naming it (CLINC150's "val"): the whole file is then one set of examples to score.
    validation_held_out: bool = False

    @property
    def intents(self) -> tuple[str, ...]:
        """The in-scope intents, sorted; out-of-scope is not a class of its own here."""
        return tuple(sorted({e.intent for e in self.train if e.in_scope}))

    @property
    def has_out_of_scope(self) -> bool:
        return any(not e.in_scope for e in (*self.train, *self.validation, *self.test))

    def evaluation_split(self, *, validation_only: bool = False) -> tuple[Example, ...]:
        return self.evaluation_examples(validation_only=validation_only)[1]

    def evaluation_examples(self, *, validation_only: bool = False) -> tuple[str, tuple[Example, ...]]:
        """What `evaluate` scores, and its name: a file without splits of its own (a separate test
        file, say) whole ("all"); a file with its own splits its test split ("test"), else its
        validation split. With `validation_only`, the validation split ("validation")."""
        if validation_only:
            return "validation", self.validation
        if self.test:
            return "test", self.test
        if self.validation_held_out:
            return "all", (*self.train, *self.validation)
        return "validation", self.validation


def load(fmt: Format, path: Path | str, *, validation_fraction: float = 0.1, seed: int = 13) -> IntentDataset:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if fmt == "clinc150":
        return _load_clinc150(path)
    if fmt == "banking77":
        examples = _read_csv(path, text_column="text", intent_column="category")
    elif fmt == "bitext":
        examples = _read_csv(path, text_column="instruction", intent_column="intent")
    elif fmt == "csv":
        examples = _read_csv(path, text_column="text", intent_column="intent")
    else:
        raise DatasetError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    train, validation = stratified_split(examples, validation_fraction, seed)
    return IntentDataset(
        tuple(train),
        tuple(validation),
        source=str(path),
        notes=(f"validation: a stratified {validation_fraction:.0%} of {path.name} (seed {seed})",),
        validation_held_out=True,
    )


_Example = TypeVar("_Example")


def stratified_split(
    examples: Sequence[_Example], fraction: float, seed: int, key: Callable[[_Example], str] = attrgetter("intent")
) -> tuple[list[_Example], list[_Example]]:
    """Hold out `fraction` of every class (at least one example of classes that have two). The
    class is `key(example)`, by default the example's intent."""
    by_class: dict[str, list[_Example]] = defaultdict(list)
    for example in examples:
        by_class[key(example)].append(example)
    rng = random.Random(seed)
    train: list[_Example] = []
    validation: list[_Example] = []
    for name in sorted(by_class):
        group = by_class[name][:]
        rng.shuffle(group)
        held = min(len(group) - 1, max(1, round(len(group) * fraction))) if len(group) > 1 else 0
        validation.extend(group[:held])
        train.extend(group[held:])
    return train, validation


def _read_csv(path: Path, *, text_column: str, intent_column: str) -> list[Example]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in (text_column, intent_column) if c not in columns]
            if missing:
                raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns)}")
            # A text listed twice would otherwise land in both splits and flatter validation.
            examples = list(dict.fromkeys(_examples((row[text_column], row[intent_column]) for row in reader)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    if not examples:
        raise DatasetError(f"{path}: no examples")
    return examples


def _load_clinc150(path: Path) -> IntentDataset:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or "train" not in data or "val" not in data:
        raise DatasetError(f"{path}: expected a JSON object with 'train' and 'val' lists (CLINC150 layout)")

    def split(*keys: str) -> tuple[Example, ...]:
        pairs = []
        for key in keys:
            for item in data.get(key, []):
                if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                    raise DatasetError(f"{path}: '{key}' holds {item!r}, expected [text, intent]")
                pairs.append((item[0], item[1]))
        return tuple(_examples(pairs))

    return IntentDataset(
        train=split("train", "oos_train"),
        validation=split("val", "oos_val"),
        test=split("test", "oos_test"),
        source=str(path),
    )


def _examples(pairs: Iterable[tuple[str, str]]) -> Iterable[Example]:
    for text, intent in pairs:
        text, intent = (text or "").strip(), (intent or "").strip()
        if text and intent:
            yield Example(text, intent)
