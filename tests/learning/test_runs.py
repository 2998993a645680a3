"""Retraining runs: judged on a frozen golden set, promoted only when not worse."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from chatbot.conversations.models import Sender
from chatbot.knowledge.models import FaqEntry
from chatbot.learning.models import GoldenSet, RunStatus, TrainingRun
from chatbot.learning.services import (
    TrainingRunError,
    training_run_execute,
    training_run_nightly,
    training_run_request,
)
from chatbot.registry.retraining import Candidate, Target, TrainingData
from chatbot.registry.selectors import model_version_active
from chatbot.registry.services import model_version_register
from intents.learning import PromotionRule, TrainingPair

pytestmark = pytest.mark.django_db


class FakeRetrainer:
    """Trains nothing: its candidate scores `candidate_score` on the golden set, whatever serves
    now scores `active_score`."""

    kind = "sentiment"
    rule = PromotionRule(metric="macro_f1")

    def __init__(self, candidate_score: float, active_score: float, *, kind: str = "sentiment", fail: bool = False):
        self.kind = kind
        self.candidate_score, self.active_score, self.fail = candidate_score, active_score, fail
        self.trained_on: list[TrainingPair] = []
        self.candidate_path = ""

    def targets(self, site: Any) -> list[Target]:
        return [Target(self.kind, site)]

    def golden_build(self, target: Target) -> tuple[list[dict[str, Any]], str]:
        return [{"question": "Can I send it back?", "answer": "Yes."}], "test"

    def train(self, target: Target, data: TrainingData, out: Path, progress: Any) -> Candidate:
        if self.fail:
            raise RuntimeError("out of memory")
        out.mkdir(parents=True)
        progress(1, 2)
        progress(2, 2)
        self.trained_on = list(data.pairs)
        self.candidate_path = str(out)
        return Candidate(out, len(data.pairs), "fake-base")

    def evaluate(self, target: Target, location: str | None, golden: Any) -> dict[str, Any]:
        return {"macro_f1": self.candidate_score if location == self.candidate_path else self.active_score}

    def active_location(self, target: Target) -> tuple[str | None, str]:
        version = model_version_active(kind=self.kind)
        return (version.path, version.name) if version else (None, "lexicon")


@pytest.fixture
def active_sentiment(tmp_path: Path) -> Any:
    folder = tmp_path / "good-model"
    folder.mkdir()
    return model_version_register(
        kind="sentiment", name="good-model", path=folder, manifest={}, metrics={"macro_f1": 0.8}, activate=True
    )


@pytest.fixture
def faq(shop_site: Any) -> FaqEntry:
    return FaqEntry.objects.create(
        site=shop_site, question="How do I return an item?", alternatives=["Can I send it back?"], answer="Yes."
    )


def run_with(*retrainers: FakeRetrainer, site: Any = None) -> TrainingRun:
    run = training_run_request(kinds=[r.kind for r in retrainers], site=site, dispatch=False)
    return training_run_execute(run.pk, retrainers={r.kind: r for r in retrainers})


def test_a_retraining_run_that_gets_worse_is_not_promoted(active_sentiment: Any, faq: FaqEntry) -> None:
    run = run_with(FakeRetrainer(candidate_score=0.7, active_score=0.8))

    assert run.status == RunStatus.SUCCEEDED
    report = run.results["sentiment"]
    assert report["status"] == "kept"
    assert report["reason"].startswith("worse: macro_f1 0.7000 < 0.8000")
    assert model_version_active(kind="sentiment").pk == active_sentiment.pk
    # The candidate is registered all the same, with its figures, for a person to look at.
    assert report["version"] != active_sentiment.name
    assert report["candidate"] == {"macro_f1": 0.7}
    assert report["previous"] == {"macro_f1": 0.8}


def test_a_candidate_that_is_not_worse_is_promoted_and_served(active_sentiment: Any, faq: FaqEntry) -> None:
    run = run_with(FakeRetrainer(candidate_score=0.8, active_score=0.8))

    report = run.results["sentiment"]
    assert report["status"] == "promoted"
    assert model_version_active(kind="sentiment").name == report["version"]
    assert run.progress == 1.0 and run.stage == "done" and not run.is_open


def test_golden_questions_never_reach_the_training_data(faq: FaqEntry) -> None:
    fake = FakeRetrainer(candidate_score=0.9, active_score=0.5)
    run = run_with(fake)

    trained = {p.question for p in fake.trained_on}
    assert trained == {"How do I return an item?"}  # its paraphrase is the golden question
    assert run.dataset_stats["sources"]["faq"] == {"found": 2, "golden": 1, "kept": 1}


def test_a_failing_kind_is_reported_and_the_others_go_on(faq: FaqEntry) -> None:
    run = run_with(
        FakeRetrainer(0.9, 0.5, kind="sentiment", fail=True),
        FakeRetrainer(0.9, 0.5, kind="dialogue"),
    )

    assert run.status == RunStatus.SUCCEEDED
    assert run.results["sentiment"]["status"] == "failed"
    assert "out of memory" in run.results["sentiment"]["reason"]
    assert run.results["dialogue"]["status"] == "promoted"


def test_a_changed_golden_set_stops_that_kind_instead_of_moving_the_goalposts(faq: FaqEntry) -> None:
    run_with(FakeRetrainer(0.9, 0.5))
    golden = GoldenSet.objects.get(kind="sentiment")
    Path(golden.path).write_text('{"question": "an easier question", "answer": "Yes."}\n')

    run = run_with(FakeRetrainer(0.9, 0.5))

    assert run.results["sentiment"]["status"] == "failed"
    assert "changed since it was frozen" in run.results["sentiment"]["reason"]


def test_only_one_run_is_open_at_a_time(faq: FaqEntry) -> None:
    first = training_run_request(kinds=["sentiment"], dispatch=False)

    with pytest.raises(TrainingRunError, match=f"run {first.pk} is still going"):
        training_run_request(kinds=["dialogue"], dispatch=False)


def test_a_run_whose_worker_died_is_failed_so_a_new_one_can_start(settings: Any) -> None:
    stuck = training_run_request(kinds=["sentiment"], dispatch=False)
    TrainingRun.objects.filter(pk=stuck.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.CHATBOT_LEARNING_STALE_S + 1)
    )

    fresh = training_run_request(kinds=["sentiment"], dispatch=False)

    stuck.refresh_from_db()
    assert stuck.status == RunStatus.FAILED and not stuck.is_open and "abandoned" in stuck.error
    assert fresh.is_open


def test_each_kind_is_retrained_by_the_retrainer_settings_name_for_it() -> None:
    from chatbot.learning import services

    retrainers = services.retrainers_load()
    assert tuple(retrainers) == services.KINDS
    for kind, retrainer in retrainers.items():
        assert retrainer.kind == kind
        assert type(retrainer).__module__.endswith(".retraining")


def test_unknown_kinds_are_refused_with_a_clear_message() -> None:
    with pytest.raises(TrainingRunError, match="Choose models to retrain among intents, sentiment, dialogue"):
        training_run_request(kinds=["weather"], dispatch=False)


def test_the_nightly_run_is_skipped_when_nothing_new_was_logged(
    faq: FaqEntry, monkeypatch: pytest.MonkeyPatch, conversation_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from chatbot.learning import services

    fakes = {kind: FakeRetrainer(0.9, 0.5, kind=kind) for kind in ("intents", "sentiment", "dialogue")}
    monkeypatch.setattr(services, "retrainers_load", lambda: fakes)
    with django_capture_on_commit_callbacks(execute=True):
        first = training_run_nightly()  # no run yet: it runs (inline dispatch)
    assert first is not None
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED and first.trigger == "schedule"

    assert training_run_nightly() is None

    conversation_of(("customer", "Do you ship to Norway?"), (Sender.OPERATOR, "Yes, in 5 days."))
    assert training_run_nightly() is not None


def test_the_nightly_run_is_on_the_beat_schedule_and_the_analytics_queue(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["learning-nightly"]
    assert entry["task"] == "learning.training_run_nightly"
    assert settings.CELERY_TASK_ROUTES["learning.training_run_nightly"] == {"queue": "analytics"}
    assert settings.CELERY_TASK_ROUTES["learning.training_run_execute"] == {"queue": "analytics"}
