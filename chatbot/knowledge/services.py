"""Writes to the FAQ store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site


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
                "language": item.get("language", site.language),
                "is_active": item.get("active", True),
            },
        )
        created += was_created
        updated += not was_created
    return created, updated
