"""Console pages of the FAQ store: the entries, their editing, CSV import and export, and the
questions the bot could not answer, grouped, each a step away from becoming an entry.

Operators see and edit the entries of their sites (another site's entry is a 404); admins see
every site and may also delete entries."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from chatbot.console.access import console_view, site_ids_for, sites_for
from chatbot.console.models import Operator
from chatbot.knowledge.faq_csv import FaqCsvError, faq_csv_import, faq_csv_read, faq_csv_write
from chatbot.knowledge.forms import QUESTION_MAX, FaqEntryForm, FaqImportForm, PeriodForm
from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.selectors import faq_counts, faq_entries_find, faq_entry_as_json
from chatbot.knowledge.services import faq_entry_active_set, faq_entry_delete, faq_entry_save
from chatbot.sites.models import Site
from intents.languages import LANGUAGE_NAMES

if TYPE_CHECKING:
    from chatbot.console.unanswered import UnansweredCluster, UnansweredQuestion

PAGE_SIZE = 50
CLUSTERS_SHOWN = 30
ALTERNATIVES_FROM_CLUSTER = 20
STATUSES = ("all", "active", "inactive")
REASONS = {
    "handoff": "handed off",
    "clarify": "asked which entry",
    "near_miss": "weak match",
    "with_human": "sent to a person",
}


def _operator(request: HttpRequest) -> Operator:
    return request.operator  # type: ignore[attr-defined, no-any-return]


def _entry_for(operator: Operator, entry_id: int) -> FaqEntry:
    """The entry, if it belongs to one of the operator's sites; otherwise 404, so nobody learns
    what another site's entries are, or that they exist."""
    return get_object_or_404(
        FaqEntry.objects.select_related("site").defer("embedding"), pk=entry_id, site_id__in=site_ids_for(operator)
    )


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _site_param(request: HttpRequest, operator: Operator) -> Site | None:
    """The `site` query parameter as one of the operator's sites; 404 for any other."""
    raw = request.GET.get("site", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("No such site.")
    site = sites_for(operator).filter(pk=int(raw)).first()
    if site is None:
        raise Http404("No such site.")
    return site


@require_GET
@console_view()
def faq_list(request: HttpRequest) -> HttpResponse:
    operator = _operator(request)
    sites = list(sites_for(operator).order_by("name"))
    site = _site_param(request, operator)
    query = request.GET.get("q", "").strip()[:200]
    status = request.GET.get("status", "all")
    if status not in STATUSES:
        status = "all"
    scope = faq_entries_find(site_ids=[s.pk for s in sites], query=query, site_id=site.pk if site else None)
    language = request.GET.get("language", "").strip()[:16]
    if language:
        scope = scope.filter(language=language)
    entries = scope if status == "all" else scope.filter(is_active=status == "active")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    named = (("q", query), ("site", site.pk if site else ""), ("status", status), ("language", language))
    filters = {k: v for k, v in named if v}
    context = {
        "nav": "knowledge",
        "sites": sites,
        "site": site,
        "query": query,
        "status": status,
        "language": language,
        "languages": LANGUAGE_NAMES,
        "counts": faq_counts(scope),
        "page": page,
        "rows": [(entry, entry.embedded_hash == entry.content_hash()) for entry in page],
        "filters": urlencode(filters),
        "here": request.get_full_path(),
    }
    return render(request, "console/knowledge/faq_list.html", context)


def _form_page(request: HttpRequest, form: FaqEntryForm, entry: FaqEntry | None, status: int = 200) -> HttpResponse:
    context = {
        "nav": "knowledge",
        "form": form,
        "entry": entry,
        "embedded": entry is not None and entry.embedded_hash == entry.content_hash(),
        "next": _next_url(request, ""),
    }
    return render(request, "console/knowledge/faq_form.html", context, status=status)


def _saved(request: HttpRequest, entry: FaqEntry, verb: str) -> None:
    if entry.is_active:
        note = "The bot answers with it as soon as it is embedded, within seconds."
    else:
        note = "It is inactive: the bot does not use it."
    messages.success(request, f"{verb} “{entry.question}”. {note}")


@console_view()
def faq_create(request: HttpRequest) -> HttpResponse:
    """The new-entry form. A POST with `action=review` (from the unanswered questions) only fills
    the form in; any other POST creates the entry when it is valid."""
    operator = _operator(request)
    sites = sites_for(operator)
    if request.method == "POST" and request.POST.get("action") != "review":
        form = FaqEntryForm(request.POST, sites=sites)
        if form.is_valid():
            data = form.cleaned_data
            entry = faq_entry_save(
                site=data["site"],
                question=data["question"],
                answer=data["answer"],
                alternatives=data["alternatives"],
                tags=data["tags"],
                is_active=data["is_active"],
                language=data["language"] or None,
            )
            _saved(request, entry, "Created")
            return redirect(_next_url(request, reverse("knowledge:faq_list")))
        return _form_page(request, form, None, status=400)
    source = request.POST if request.method == "POST" else request.GET
    initial: dict[str, Any] = {"is_active": True}
    initial.update(
        {k: source[k] for k in ("site", "question", "alternatives", "answer", "tags", "language") if k in source}
    )
    return _form_page(request, FaqEntryForm(initial=initial, sites=sites), None)


@console_view()
def faq_edit(request: HttpRequest, entry_id: int) -> HttpResponse:
    operator = _operator(request)
    entry = _entry_for(operator, entry_id)
    sites = sites_for(operator)
    if request.method == "POST":
        form = FaqEntryForm(request.POST, sites=sites, entry=entry)
        if form.is_valid():
            data = form.cleaned_data
            entry = faq_entry_save(
                site=entry.site,
                entry=entry,
                question=data["question"],
                answer=data["answer"],
                alternatives=data["alternatives"],
                tags=data["tags"],
                is_active=data["is_active"],
                language=data["language"] or None,
            )
            _saved(request, entry, "Saved")
            return redirect(_next_url(request, reverse("knowledge:faq_list")))
        return _form_page(request, form, entry, status=400)
    return _form_page(request, FaqEntryForm(initial=FaqEntryForm.initial_for(entry), sites=sites, entry=entry), entry)


@require_POST
@console_view()
def faq_active(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Deactivate (`active=0`) or reactivate (`active=1`) an entry."""
    entry = _entry_for(_operator(request), entry_id)
    active = request.POST.get("active") == "1"
    faq_entry_active_set(entry=entry, active=active)
    messages.success(request, f"{'Reactivated' if active else 'Deactivated'} “{entry.question}”.")
    return redirect(_next_url(request, reverse("knowledge:faq_list")))


@require_POST
@console_view(admin_only=True)
def faq_delete(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = _entry_for(_operator(request), entry_id)
    question = entry.question
    faq_entry_delete(entry=entry)
    messages.success(request, f"Deleted “{question}”.")
    return redirect(_next_url(request, reverse("knowledge:faq_list")))


@require_GET
@console_view()
def faq_export(request: HttpRequest) -> HttpResponse:
    """One site's entries as CSV (see `faq_csv`), or with `format=json` as JSON: the site chosen,
    or the operator's only one."""
    operator = _operator(request)
    site = _site_param(request, operator)
    if site is None:
        sites = list(sites_for(operator)[:2])
        if len(sites) != 1:
            messages.error(request, "Choose the site whose entries to export.")
            return redirect("knowledge:faq_list")
        site = sites[0]
    entries = FaqEntry.objects.filter(site=site).defer("embedding").order_by("id")
    if request.GET.get("format") == "json":
        # The shape `manage.py faq_import` reads, so an export loads into another site as it is.
        body = json.dumps([faq_entry_as_json(entry) for entry in entries], ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        filename = f"faq-{site.key}-{timezone.localdate():%Y%m%d}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    buffer = io.StringIO()
    buffer.write("\ufeff")  # a byte-order mark, so spreadsheet programs read the file as UTF-8
    faq_csv_write(entries, buffer)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"faq-{site.key}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@console_view()
def faq_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV: every row is checked first; one bad row and nothing is imported."""
    operator = _operator(request)
    sites = sites_for(operator)
    errors: list[str] = []
    if request.method == "POST":
        form = FaqImportForm(request.POST, request.FILES, sites=sites)
        if form.is_valid():
            site = form.cleaned_data["site"]
            try:
                rows = faq_csv_read(form.cleaned_data["file"].read(), site=site)
                created, updated = faq_csv_import(site=site, rows=rows)
            except FaqCsvError as exc:
                errors = exc.errors
            else:
                messages.success(request, f"Imported into {site.name}: {created} entries created, {updated} updated.")
                return redirect(f"{reverse('knowledge:faq_list')}?site={site.pk}")
    else:
        form = FaqImportForm(initial={"site": request.GET.get("site")}, sites=sites)
    context = {"nav": "knowledge", "form": form, "errors": errors}
    return render(request, "console/knowledge/faq_import.html", context, status=400 if errors else 200)


@dataclass(frozen=True)
class _ClusterCard:
    cluster: UnansweredCluster
    site: Site
    questions: list[tuple[str, int]]  # distinct questions with how often they were asked
    reasons: list[tuple[str, int]]  # why they count as unanswered, in words
    question: str  # the prefilled entry
    alternatives: str
    answer: str


def _cluster_card(
    cluster: UnansweredCluster, by_id: dict[int, UnansweredQuestion], sites: dict[int, Site]
) -> _ClusterCard:
    members = [by_id[message_id] for message_id in cluster.message_ids]
    # Questions from several sites (the "all my sites" view): the entry goes to the most frequent.
    site_id = Counter(q.site_id for q in members).most_common(1)[0][0]
    distinct = Counter(cluster.questions)
    question = cluster.label[:QUESTION_MAX]
    # One line each, and no "|": the form's rules for alternatives.
    others = [q.replace("|", "/") for q in distinct if q != cluster.label][:ALTERNATIVES_FROM_CLUSTER]
    return _ClusterCard(
        cluster=cluster,
        site=sites[site_id],
        questions=distinct.most_common(),
        reasons=Counter(REASONS[q.reason] for q in members).most_common(),
        question=question,
        alternatives="\n".join(q for q in others if len(q) <= QUESTION_MAX),
        answer=cluster.operator_replies[0] if cluster.operator_replies else "",
    )


@require_GET
@console_view()
def unanswered(request: HttpRequest) -> HttpResponse:
    """The period's unanswered questions of the operator's sites, grouped by meaning."""
    # Imported here: clustering brings in scikit-learn, which no other console page needs.
    from chatbot.console.unanswered import unanswered_questions, unanswered_questions_cluster

    operator = _operator(request)
    sites = sites_for(operator)
    form = PeriodForm(request.GET, sites=sites)
    cards: list[_ClusterCard] = []
    total = 0
    if form.is_valid():
        data = form.cleaned_data
        site_ids = [data["site"].pk] if data["site"] else site_ids_for(operator)
        questions = unanswered_questions(
            site_ids=site_ids, start=data["start"], end=data["end"], limit=settings.CHATBOT_UNANSWERED_MAX_QUESTIONS
        )
        total = len(questions)
        clusters = unanswered_questions_cluster(questions, limit=CLUSTERS_SHOWN)
        by_id = {q.message_id: q for q in questions}
        site_by_id = {s.pk: s for s in sites.filter(pk__in={q.site_id for q in questions})}
        cards = [_cluster_card(c, by_id, site_by_id) for c in clusters]
    context = {
        "nav": "knowledge",
        "form": form,
        "cards": cards,
        "total": total,
        "capped": total >= settings.CHATBOT_UNANSWERED_MAX_QUESTIONS,
        "max_questions": settings.CHATBOT_UNANSWERED_MAX_QUESTIONS,
        "here": request.get_full_path(),
    }
    return render(request, "console/knowledge/unanswered.html", context)
