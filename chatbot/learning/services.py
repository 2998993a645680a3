"""The learning loop: build the training data set from the logs, retrain, judge, promote.

`training_run_request` records a run and dispatches it (Celery `analytics` queue, a thread of
this process, or inline: settings.CHATBOT_DISPATCH); `training_run_execute` carries it out:

1. the data set: `training_dataset_build` writes the cleaned, redacted, de-duplicated pairs as
   JSONL (downloadable from the console);
2. for each kind asked for (and for intents, each site): the frozen golden set; a candidate
   trained from the data set; the candidate and the model serving now scored on the golden set
   in the same run; the candidate registered, and promoted only when it is not worse
   (`intents.learning.promotion_decision` with the kind's rule).

The run records its stage and progress as it goes, so the console can show them, and a report
per kind at the end. One run at a time: a second request while one is open is refused.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from chatbot.conversations import events
from chatbot.conversations.models import Feedback, Message, Sender
from chatbot.knowledge.models import FaqEntry
from chatbot.learning.golden import golden_rows
from chatbot.learning.models import RunStatus, RunTrigger, SentimentCorrection, TrainingRun
from chatbot.learning.selectors import (
    sentiment_corrections,
    training_pairs_collect,
    training_run_last_succeeded,
    training_run_open,
)
from chatbot.registry.models import ModelKind
from chatbot.registry.retraining import Retrainer, SkipTarget, Target, TrainingData
from chatbot.registry.services import model_version_promote, model_version_register
from chatbot.replies.dispatch import task_dispatch
from chatbot.sites.models import Site
from intents.learning import (
    PreparedPairs,
    TrainingPair,
    golden_questions,
    prepare_pairs,
    promotion_decision,
    write_jsonl,
)
from intents.sentiment.scorers import LABELS

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = (ModelKind.INTENTS, ModelKind.SENTIMENT, ModelKind.DIALOGUE)
_PROGRESS_EVERY_S = 1.0
TRAINING_SHARE = 0.7  # of a kind's part of the progress bar; scoring on the golden set is the rest


class TrainingRunError(ValueError):
    """A run that cannot be started; the message says why, for people."""


@dataclass(frozen=True)
class DatasetReport:
    path: Path
    kept: list[TrainingPair]
    stats: dict[str, dict[str, int]]

    @property
    def pairs(self) -> int:
        return len(self.kept)


def training_dataset_build(
    *, site: Site | None, path: Path, exclude_questions: set[str] | None = None
) -> DatasetReport:
    """Write the learning data set of `site` (or every site) to `path` as JSONL."""
    prepared: PreparedPairs = prepare_pairs(
        training_pairs_collect(site=site), exclude_questions=exclude_questions or ()
    )
    write_jsonl(prepared.pairs, path)
    return DatasetReport(path, prepared.pairs, prepared.stats)


def training_run_request(
    *,
    kinds: list[str],
    site: Site | None = None,
    trigger: str = RunTrigger.CONSOLE,
    requested_by: str = "",
    dispatch: bool = True,
) -> TrainingRun:
    """Record a run and start it in the background (without `dispatch`, the caller runs
    `training_run_execute` itself). Refused while another run is open."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise TrainingRunError(f"Choose models to retrain among {', '.join(KINDS)}.")
    _close_abandoned_runs()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                site=site, kinds=[k for k in KINDS if k in kinds], trigger=trigger, requested_by=requested_by
            )
    except IntegrityError as exc:
        open_run = training_run_open()
        raise TrainingRunError(
            f"Retraining run {open_run.pk if open_run else '?'} is still going; wait for it to finish."
        ) from exc
    if not dispatch:
        return run
    transaction.on_commit(
        lambda: task_dispatch(
            "chatbot.learning.tasks.training_run_execute",
            run.pk,
            what="retrain",
            if_lost="the run is failed as abandoned after CHATBOT_LEARNING_STALE_S",
        )
    )
    return run


def training_run_nightly() -> TrainingRun | None:
    """The scheduled run: every kind, every site; skipped when a run is open or nothing new was
    logged since the last successful run (no new operator replies, liked answers or FAQ edits)."""
    if training_run_open() is not None:
        logger.info("nightly retraining skipped: a run is open")
        return None
    if not _new_data_since_last_run():
        logger.info("nightly retraining skipped: nothing new since the last run")
        return None
    try:
        return training_run_request(kinds=list(KINDS), trigger=RunTrigger.SCHEDULE, requested_by="schedule")
    except TrainingRunError as exc:
        logger.info("nightly retraining skipped: %s", exc)
        return None


def retrainers_load() -> dict[str, Retrainer]:
    """The retrainer of each kind, from the dotted paths of settings.CHATBOT_RETRAINERS."""
    return {kind: import_string(path)() for kind, path in settings.CHATBOT_RETRAINERS.items()}


def training_run_execute(run_id: int, retrainers: Mapping[str, Retrainer] | None = None) -> TrainingRun:
    """Carry out a queued run (the task's body). Never raises for a failed kind: its report says
    what went wrong and the other kinds go on; an error outside them fails the run."""
    retrainers = retrainers or retrainers_load()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.QUEUED:
            return run  # a redelivered task: the run is already being (or was) carried out
        run.status, run.started_at, run.heartbeat_at = RunStatus.RUNNING, timezone.now(), timezone.now()
        run.save(update_fields=["status", "started_at", "heartbeat_at"])
    reporter = _Reporter(run)
    try:
        targets = [t for kind in run.kinds for t in retrainers[kind].targets(run.site)]
        steps = 1 + len(targets)
        reporter.stage("building the data set", 0, steps)
        goldens: dict[Target, list[dict[str, Any]] | Exception] = {}
        for target in targets:
            try:
                goldens[target] = golden_rows(
                    kind=target.kind, scope=target.scope, build=partial(retrainers[target.kind].golden_build, target)
                )
            except (SkipTarget, Exception) as exc:  # reported per kind below
                goldens[target] = exc
        held = set().union(*(golden_questions(g) for g in goldens.values() if isinstance(g, list)))
        directory = Path(settings.CHATBOT_LEARNING_DIR) / "runs" / str(run.pk)
        dataset = training_dataset_build(site=run.site, path=directory / "dataset.jsonl", exclude_questions=held)
        run.dataset_path, run.dataset_stats = str(dataset.path), {"pairs": dataset.pairs, "sources": dataset.stats}
        run.save(update_fields=["dataset_path", "dataset_stats"])
        pairs = dataset.kept
        for number, target in enumerate(targets, 1):
            reporter.stage(f"{target.label}: training", number, steps)
            report = _retrain(run, retrainers[target.kind], target, goldens[target], pairs, directory, reporter)
            run.results = {**run.results, target.label: report}
            run.save(update_fields=["results"])
        run.status = RunStatus.SUCCEEDED
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        run.status, run.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
    run.is_open, run.finished_at = False, timezone.now()
    run.stage, run.progress = ("done" if run.status == RunStatus.SUCCEEDED else "failed"), 1.0
    run.save(update_fields=["status", "error", "is_open", "finished_at", "stage", "progress"])
    return run


def _retrain(
    run: TrainingRun,
    retrainer: Retrainer,
    target: Target,
    golden: list[dict[str, Any]] | Exception,
    pairs: list[TrainingPair],
    directory: Path,
    reporter: _Reporter,
) -> dict[str, Any]:
    started = time.perf_counter()
    report: dict[str, Any] = {"kind": target.kind, "scope": target.scope}
    try:
        if isinstance(golden, Exception):
            raise golden
        report["golden_examples"] = len(golden)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        name = f"{target.kind}-{target.site.key + '-' if target.scope and target.site else ''}run{run.pk}-{stamp}"
        data = TrainingData(pairs, golden, sentiment_corrections(site=target.site))
        candidate = retrainer.train(target, data, directory / name, reporter.within)
        report["examples"] = candidate.examples
        reporter.note(f"{target.label}: scoring the candidate on the golden set", 0.75)
        candidate_metrics = retrainer.evaluate(target, str(candidate.path), golden)
        location, active_name = retrainer.active_location(target)
        reporter.note(f"{target.label}: scoring {active_name} on the golden set", 0.9)
        active_metrics = retrainer.evaluate(target, location, golden)
        decision = promotion_decision(candidate_metrics, active_metrics, retrainer.rule)
        version = model_version_register(
            kind=target.kind,
            scope=target.scope,
            name=name,
            path=candidate.path,
            base_model=candidate.base_model,
            manifest={
                "training_run": run.pk,
                "dataset": run.dataset_path,
                "examples": candidate.examples,
                **candidate.manifest,
            },
            metrics={**_numbers(candidate_metrics), "golden_examples": len(golden)},
            notes=f"learning run {run.pk}: {decision.reason}",
        )
        if decision.promote:
            model_version_promote(version=version, by=f"learning:run-{run.pk}")
        report.update(
            status="promoted" if decision.promote else "kept",
            version=version.name,
            active=active_name,
            metric=retrainer.rule.metric,
            candidate=_numbers(candidate_metrics),
            previous=_numbers(active_metrics),
            reason=decision.reason,
        )
    except SkipTarget as exc:
        report.update(status="skipped", reason=str(exc))
    except Exception as exc:
        logger.exception("training run %s: %s failed", run.pk, target.label)
        report.update(status="failed", reason=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=3))
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


class _Reporter:
    """Writes the run's stage and progress, at most once a second (a training step is short)."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self.step, self.steps = 0, 1
        self.label = ""
        self.last = 0.0

    def stage(self, text: str, step: int, steps: int) -> None:
        self.step, self.steps, self.label = step, steps, text
        self._write(text, step / steps, force=True)

    def note(self, text: str, within: float) -> None:
        """A step after training: `within` is how far through the current target it is."""
        self._write(text, (self.step + within) / self.steps, force=True)

    def within(self, done: int, total: int) -> None:
        """Training progress: training is the first TRAINING_SHARE of each target's time."""
        fraction = (self.step + TRAINING_SHARE * (done / total if total else 0.0)) / self.steps
        self._write(f"{self.label} ({done}/{total})", fraction, force=done >= total)

    def _write(self, text: str, progress: float, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        self.run.stage, self.run.progress, self.run.heartbeat_at = text[:200], round(progress, 4), timezone.now()
        TrainingRun.objects.filter(pk=self.run.pk).update(
            stage=self.run.stage, progress=self.run.progress, heartbeat_at=self.run.heartbeat_at
        )


def _close_abandoned_runs() -> None:
    """A run whose worker died leaves no heartbeat: after CHATBOT_LEARNING_STALE_S it is failed,
    so a new run can start."""
    stale = timezone.now() - timedelta(seconds=settings.CHATBOT_LEARNING_STALE_S)
    for run in TrainingRun.objects.filter(is_open=True):
        last = run.heartbeat_at or run.created_at
        if last < stale:
            run.is_open, run.status, run.finished_at = False, RunStatus.FAILED, timezone.now()
            run.error = f"abandoned: no progress for {settings.CHATBOT_LEARNING_STALE_S} s (worker stopped?)"
            run.save(update_fields=["is_open", "status", "finished_at", "error"])


def _new_data_since_last_run() -> bool:
    last = training_run_last_succeeded()
    if last is None or last.started_at is None:
        return True
    since = last.started_at
    return (
        Message.objects.filter(sender=Sender.OPERATOR, created_at__gte=since).exists()
        or Message.objects.filter(sender=Sender.BOT, feedback=Feedback.UP, created_at__gte=since).exists()
        or FaqEntry.objects.filter(updated_at__gte=since).exists()
    )


def sentiment_correction_set(
    *, conversation_id: int, seq: int, label: str, site_ids: set[int], by: Any = None
) -> SentimentCorrection:
    """A person's sentiment label for a customer message of one of `site_ids`: training data for
    the next sentiment model. Setting it again replaces it."""
    if label not in LABELS:
        raise SentimentCorrectionError(f"The label must be one of {', '.join(LABELS)}.")
    message = Message.objects.filter(
        conversation_id=conversation_id, seq=seq, conversation__site_id__in=site_ids
    ).first()
    if message is None:
        raise SentimentCorrectionError("No such message.")
    if message.sender != Sender.CUSTOMER:
        raise SentimentCorrectionError("Only customer messages have a sentiment.")
    correction, _ = SentimentCorrection.objects.update_or_create(message=message, defaults={"label": label, "by": by})
    site_id = message.conversation.site_id
    transaction.on_commit(
        lambda: events.publish_inbox(site_id=site_id, conversation_id=conversation_id, kind="sentiment", seq=seq)
    )
    return correction


class SentimentCorrectionError(ValueError):
    """A correction that cannot be stored; the message says why, for people."""
