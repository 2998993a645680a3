"""The site's FAQ: list, read, create, change, delete, bulk import. Every write goes through the
knowledge services the console uses, so the reply engine re-embeds the entries once the change
commits (`knowledge.signals.faq_edited`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.params import functions as param
from ninja.responses import Status
from pydantic import Field, StringConstraints

from chatbot.api.auth import ApiKeyAuth, key_of
from chatbot.api.errors import ApiError
from chatbot.api_keys.models import ApiKey, Scope
from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.selectors import faq_entries_find
from chatbot.knowledge.services import faq_entry_delete, faq_entry_save, faq_import, faq_refresh_after_commit

router = Router(tags=["knowledge"], auth=ApiKeyAuth(Scope.KNOWLEDGE))

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
AnswerText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Language = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=16, pattern=r"^[A-Za-z-]+$")
]
BULK_MAX = 5000


class FaqIn(Schema):
    question: Question
    answer: AnswerText
    alternatives: list[Phrase] = Field(default_factory=list, max_length=100)
    tags: list[Phrase] = Field(default_factory=list, max_length=50)
    language: Language | None = Field(None, description="e.g. en, de, zh; default: the site's language")
    is_active: bool = True


class FaqPatch(Schema):
    question: Question | None = None
    answer: AnswerText | None = None
    alternatives: list[Phrase] | None = Field(None, max_length=100)
    tags: list[Phrase] | None = Field(None, max_length=50)
    language: Language | None = None
    is_active: bool | None = None


class FaqOut(Schema):
    id: int
    question: str
    answer: str
    alternatives: list[str]
    tags: list[str]
    language: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class FaqPage(Schema):
    results: list[FaqOut]
    count: int


class BulkIn(Schema):
    entries: list[FaqIn] = Field(max_length=BULK_MAX)
    replace: bool = Field(False, description="Delete the site's entries whose question is not in this list.")


class BulkOut(Schema):
    created: int
    updated: int


def _entry(api_key: ApiKey, faq_id: int) -> FaqEntry:
    entry = FaqEntry.objects.filter(pk=faq_id, site_id=api_key.site_id).defer("embedding").first()
    if entry is None:
        raise ApiError(404, "not_found", f"No FAQ entry {faq_id}.")
    return entry


@router.get("/faq", response=FaqPage, summary="The site's FAQ entries")
def faq_list(
    request: HttpRequest,
    q: str = param.Query("", max_length=200),
    status: str = param.Query("all", pattern="^(all|active|inactive)$"),
    offset: int = param.Query(0, ge=0),
    limit: int = param.Query(100, ge=1, le=500),
) -> dict[str, Any]:
    entries = faq_entries_find(site_ids=[key_of(request).site_id], query=q, status=status)
    return {"results": list(entries[offset : offset + limit]), "count": entries.count()}


@router.get("/faq/{int:faq_id}", response=FaqOut, summary="One FAQ entry")
def faq_get(request: HttpRequest, faq_id: int) -> FaqEntry:
    return _entry(key_of(request), faq_id)


@router.post("/faq", response={201: FaqOut}, summary="Add an FAQ entry")
def faq_create(request: HttpRequest, payload: FaqIn) -> Status[FaqEntry]:
    entry = faq_entry_save(site=key_of(request).site, **payload.dict())
    return Status(201, entry)


def _update(request: HttpRequest, faq_id: int, fields: dict[str, Any]) -> FaqEntry:
    api_key = key_of(request)
    entry = _entry(api_key, faq_id)
    current = {
        "question": entry.question,
        "answer": entry.answer,
        "alternatives": entry.alternatives,
        "tags": entry.tags,
        "language": entry.language,
        "is_active": entry.is_active,
    }
    return faq_entry_save(site=api_key.site, entry=entry, **(current | fields))


@router.put("/faq/{int:faq_id}", response=FaqOut, summary="Replace an FAQ entry")
def faq_replace(request: HttpRequest, faq_id: int, payload: FaqIn) -> FaqEntry:
    return _update(request, faq_id, payload.dict())


@router.patch("/faq/{int:faq_id}", response=FaqOut, summary="Change some fields of an FAQ entry")
def faq_patch(request: HttpRequest, faq_id: int, payload: FaqPatch) -> FaqEntry:
    return _update(request, faq_id, payload.dict(exclude_unset=True, exclude_none=True))


@router.delete("/faq/{int:faq_id}", response={204: None}, summary="Delete an FAQ entry")
def faq_remove(request: HttpRequest, faq_id: int) -> Status[None]:
    faq_entry_delete(entry=_entry(key_of(request), faq_id))
    return Status(204, None)


@router.post("/faq/import", response=BulkOut, summary="Create or update many entries by question")
def faq_bulk_import(request: HttpRequest, payload: BulkIn) -> BulkOut:
    site = key_of(request).site
    entries = [
        {
            **entry.dict(exclude={"is_active", "language"}),
            "active": entry.is_active,
            "language": entry.language or site.language,
        }
        for entry in payload.entries
    ]
    with transaction.atomic():
        created, updated = faq_import(site=site, entries=entries, replace=payload.replace)
        faq_refresh_after_commit(site.pk)
    return BulkOut(created=created, updated=updated)
