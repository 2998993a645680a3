"""What retraining a kind of model means: the interface each kind's retrainer implements.

A `Retrainer` knows, for its kind: how to build its golden set, how to train a candidate from the
prepared training pairs, how to score any model of the kind on the golden set, and which model is
serving now. Each kind keeps its retrainer next to its models (`chatbot.intent_models.retraining`,
`chatbot.sentiment.retraining`, `chatbot.dialogue.retraining`), settings.CHATBOT_RETRAINERS names
them by dotted path, and `chatbot.learning` runs them all the same way: it freezes the golden set
(`chatbot.learning.golden`), collects the training data, judges and promotes. The interface lives
here, with the model kinds, so that neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chatbot.registry.models import ModelKind
from chatbot.registry.selectors import site_scope
from chatbot.sites.models import Site
from intents.learning import PromotionRule, TrainingPair, golden_questions

Progress = Callable[[int, int], None]  # (done, total) within the current step


@dataclass(frozen=True)
class Target:
    """What one retrainer works on in a run: a kind, for one site or for all."""

    kind: str
    site: Site | None

    @property
    def scope(self) -> str:
        return site_scope(self.site.key) if self.site is not None and self.kind == ModelKind.INTENTS else ""

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.site.key})" if self.kind == ModelKind.INTENTS and self.site else self.kind


@dataclass
class Candidate:
    path: Path
    examples: int
    base_model: str
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingData:
    """What a run gives a retrainer to train one target on."""

    pairs: Sequence[TrainingPair]  # the run's data set: cleaned, redacted, golden questions left out
    golden: list[dict[str, Any]]  # the target's golden set, which no training example may repeat
    # (customer message text, sentiment label) that people set by hand, of the target's site (of
    # every site when it has none); only the sentiment retrainer uses them.
    corrections: Sequence[tuple[str, str]] = ()

    def golden_questions(self) -> set[str]:
        """The comparison keys (`intents.learning.normalised`) of the golden set's questions."""
        return golden_questions(self.golden)


class SkipTarget(Exception):
    """Nothing to retrain for this target (e.g. no labelled data configured); the message says why."""


class Retrainer(Protocol):
    kind: str
    rule: PromotionRule

    def targets(self, site: Site | None) -> list[Target]: ...

    def golden_build(self, target: Target) -> tuple[list[dict[str, Any]], str]:
        """The rows of a new golden set and where they came from, for the first run of the
        target; every later run reads the rows frozen then."""
        ...

    def train(self, target: Target, data: TrainingData, out: Path, progress: Progress) -> Candidate:
        """A candidate trained into `out`, never on a question of the golden set."""
        ...

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        """Scores of the model at `location`; None: of what serves when no model is active
        (a baseline), or {} when there is nothing to score."""
        ...

    def active_location(self, target: Target) -> tuple[str | None, str]:
        """(location, name) of the model serving now; (None, what serves instead) when none."""
        ...
