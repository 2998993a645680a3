"""Console pages of the learning loop, for the install's own staff (`Operator.is_platform_staff`:
the models it trains are shared by every organisation and learn from all their logs): start a
retraining run, watch its progress, read each run's report (data set, golden-set figures of
candidate and active model, the decision) and download the data set it trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from chatbot.console.access import console_view, site_ids_for
from chatbot.learning.models import GoldenSet, TrainingRun
from chatbot.learning.selectors import training_run_open, training_runs_list
from chatbot.learning.services import (
    KINDS,
    SentimentCorrectionError,
    TrainingRunError,
    sentiment_correction_set,
    training_run_request,
)
from chatbot.registry.models import ModelVersion
from chatbot.sites.models import Site

RUNS_SHOWN = 20


@require_GET
@console_view(platform_only=True)
def learning_index(request: HttpRequest) -> HttpResponse:
    runs = list(training_runs_list(limit=RUNS_SHOWN))
    active = ModelVersion.objects.filter(is_active=True).order_by("kind", "scope")
    return render(
        request,
        "console/learning/index.html",
        {
            "nav": "learning",
            "kinds": KINDS,
            "sites": Site.objects.order_by("name"),
            "runs": [(run, _reports(run)) for run in runs],
            "open_run": training_run_open(),
            "active_models": active,
            "golden_sets": GoldenSet.objects.order_by("kind", "scope"),
            "sentiment_data": settings.CHATBOT_LEARNING_SENTIMENT_DATA,
        },
    )


@require_POST
@console_view(platform_only=True)
def learning_retrain(request: HttpRequest) -> HttpResponse:
    kinds = [k for k in request.POST.getlist("kinds") if k in KINDS]
    site = None
    if request.POST.get("site"):
        site = Site.objects.filter(pk=request.POST["site"]).first() if request.POST["site"].isdigit() else None
        if site is None:
            messages.error(request, "Unknown site.")
            return redirect("learning:index")
    try:
        run = training_run_request(kinds=kinds, site=site, requested_by=request.user.get_username())
    except TrainingRunError as exc:
        messages.error(request, str(exc))
        return redirect("learning:index")
    messages.success(request, f"Retraining run {run.pk} started: {', '.join(run.kinds)}.")
    return redirect("learning:index")


@require_GET
@console_view(platform_only=True)
def learning_run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    return JsonResponse(run_status(run))


def _reports(run: TrainingRun) -> list[dict[str, Any]]:
    """Each kind's report with its headline figure picked out, for the template."""
    reports = []
    for label, report in run.results.items():
        metric = report.get("metric", "")
        reports.append(
            {
                **report,
                "label": label,
                "candidate_value": report.get("candidate", {}).get(metric) if metric else None,
                "previous_value": report.get("previous", {}).get(metric) if metric else None,
            }
        )
    return reports


def run_status(run: TrainingRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "is_open": run.is_open,
        "stage": run.stage,
        "progress": run.progress,
        "error": run.error,
        "results": {label: {"status": r.get("status"), "reason": r.get("reason")} for label, r in run.results.items()},
    }


@require_GET
@console_view(platform_only=True)
def learning_run_dataset(request: HttpRequest, run_id: int) -> FileResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    path = Path(run.dataset_path) if run.dataset_path else None
    if path is None or not path.is_file():
        raise Http404("This run's data set is not on this server (any more).")
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=f"training-run-{run.pk}.jsonl", content_type="application/jsonl"
    )


@require_POST
@console_view()
def sentiment_correct(request: HttpRequest, conversation_id: int, seq: int) -> JsonResponse:
    """An operator sets the sentiment of a customer message of one of their sites (JSON reply)."""
    try:
        correction = sentiment_correction_set(
            conversation_id=conversation_id,
            seq=seq,
            label=request.POST.get("label", ""),
            site_ids=site_ids_for(request.operator),  # type: ignore[attr-defined]
            by=request.user,
        )
    except SentimentCorrectionError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"conversation": conversation_id, "seq": seq, "label": correction.label})
