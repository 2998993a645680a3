"""Writes to the FAQ store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.signals import faq_edited
from chatbot.sites.models import Site
from intents.languages import normalise_language


class FaqFileError(ValueError):
    pass


def faq_entries_from_file(path: Path) -> list[dict[str, Any]]:
    """Read a JSON list of {question, alternatives?, answer, tags?, language?}; explain what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FaqFileError(f"{path}: {exc}") from exc
    if not isinstance(data, list):
        raise FaqFileError(f"{path}: expected a JSON list of FAQ entries")
    for number, item in enumerate(data, start=1):
        if (
            not isinstance(item, dict)
            or not str(item.get("question", "")).strip()
            or not str(item.get("answer", "")).strip()
        ):
            raise FaqFileError(f"{path}: entry {number} needs a non-empty 'question' and 'answer'")
        if not isinstance(item.get("alternatives", []), list) or not isinstance(item.get("tags", []), list):
            raise FaqFileError(f"{path}: entry {number}: 'alternatives' and 'tags' must be lists")
    return data


@transaction.atomic
def faq_import(*, site: Site, entries: list[dict[str, Any]], replace: bool = False) -> tuple[int, int]:
    """Create or update entries by question text. Returns (created, updated)."""
    if replace:
        FaqEntry.objects.filter(site=site).exclude(question__in=[e["question"].strip() for e in entries]).delete()
    created = updated = 0
    for item in entries:
        _, was_created = FaqEntry.objects.update_or_create(
            site=site,
            question=item["question"].strip(),
            defaults={
                "answer": item["answer"].strip(),
                "alternatives": [a.strip() for a in item.get("alternatives", []) if str(a).strip()],
                "tags": item.get("tags", []),
                "language": normalise_language(str(item.get("language") or site.language)),
                "is_active": item.get("active", True),
            },
        )
        created += was_created
        updated += not was_created
    return created, updated


def faq_refresh_after_commit(site_id: int) -> None:
    """Once the change is committed, announce it (`faq_edited`): the reply engine re-embeds the
    site's changed entries (CHATBOT_DISPATCH)."""
    transaction.on_commit(lambda: faq_edited.send(sender=FaqEntry, site_id=site_id))


def _clean_list(items: list[str]) -> list[str]:
    return list(dict.fromkeys(" ".join(item.split()) for item in items if item.strip()))


@transaction.atomic
def faq_entry_save(
    *,
    site: Site,
    question: str,
    answer: str,
    alternatives: list[str],
    tags: list[str],
    is_active: bool = True,
    entry: FaqEntry | None = None,
    language: str | None = None,
) -> FaqEntry:
    """Create an entry of `site`, or update `entry` (which stays on its site), and have it
    embedded as soon as the change is committed. `language`: None keeps the entry's (a new
    entry's is the site's)."""
    entry = faq_entry_write(
        site=site,
        entry=entry,
        question=question,
        answer=answer,
        alternatives=alternatives,
        tags=tags,
        is_active=is_active,
        language=language,
    )
    faq_refresh_after_commit(entry.site_id)
    return entry


def faq_entry_write(
    *,
    site: Site,
    question: str,
    answer: str,
    alternatives: list[str],
    tags: list[str],
    is_active: bool,
    entry: FaqEntry | None,
    language: str | None = None,
) -> FaqEntry:
    """Store an entry's fields, tidied; the caller re-embeds (see `faq_entry_save`)."""
    question = " ".join(question.split())
    if entry is None:
        entry = FaqEntry(site=site, language=site.language)
    if language:
        entry.language = normalise_language(language)
    entry.question = question
    entry.answer = answer.strip()
    entry.alternatives = [a for a in _clean_list(alternatives) if a != question]
    entry.tags = _clean_list(tags)
    entry.is_active = is_active
    entry.save()
    return entry


@transaction.atomic
def faq_entry_active_set(*, entry: FaqEntry, active: bool) -> FaqEntry:
    """Deactivate (the bot stops using it; kept for the record) or reactivate an entry."""
    if entry.is_active != active:
        entry.is_active = active
        entry.save(update_fields=["is_active", "updated_at"])
        faq_refresh_after_commit(entry.site_id)
    return entry


@transaction.atomic
def faq_entry_delete(*, entry: FaqEntry) -> None:
    site_id = entry.site_id
    entry.delete()
    faq_refresh_after_commit(site_id)
