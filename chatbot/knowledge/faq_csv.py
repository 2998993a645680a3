"""FAQ entries as CSV, for editing in a spreadsheet: export, and an import that checks every row
before it changes anything.

Columns: id, question, alternatives (joined by " | "), answer, tags (joined by ", "), language
(`en`, `zh-hans`; `zh` and `zh-CN` are read as `zh-hans`), is_active. Only question and answer are
required; a column left out keeps the values of the entries updated (a new entry is in the site's
language).
A cell a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return,
or a Unicode look-alike of one of those, behind blanks or not: chatbot.csv_safety) is written
with a leading apostrophe, as OWASP advises against CSV injection; the import takes that
apostrophe off again, so an export imported back gives the same entries.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from django.db import transaction

from chatbot.csv_safety import starts_like_formula
from chatbot.knowledge.forms import FaqEntryForm
from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.services import faq_entry_write, faq_refresh_after_commit
from chatbot.sites.models import Site
from intents.languages import normalise_language

COLUMNS = ("id", "question", "alternatives", "answer", "tags", "language", "is_active")
REQUIRED_COLUMNS = ("question", "answer")
ALTERNATIVES_SEPARATOR = " | "
TAGS_SEPARATOR = ", "
MAX_ROWS = 5000

_TRUE = {"true", "1", "yes", "y", "active"}
_FALSE = {"false", "0", "no", "n", "inactive"}


class FaqCsvError(ValueError):
    """The file cannot be imported; `errors` lists every problem, with its row number."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class FaqCsvRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    entry_id: int | None  # the entry it updates; None: a new entry
    question: str
    answer: str
    alternatives: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    is_active: bool | None = None  # empty cell or no column: an entry keeps its state, a new one is active
    language: str = ""  # empty cell or no column: an entry keeps its language, a new one gets the site's


def _formula(value: str) -> bool:
    # A formula trigger (or a look-alike, chatbot.csv_safety), possibly behind apostrophes added
    # before: escaping "'=x" as "''=x" keeps the round trip exact for a text that really starts
    # with an apostrophe.
    return starts_like_formula(value.lstrip("'"))


def cell_neutralise(value: str) -> str:
    return "'" + value if _formula(value) else value


def cell_restore(value: str) -> str:
    return value[1:] if value.startswith("'") and _formula(value[1:]) else value


def faq_csv_write(entries: Iterable[FaqEntry], stream: TextIO) -> None:
    writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        cells = [
            str(entry.pk),
            entry.question,
            ALTERNATIVES_SEPARATOR.join(entry.alternatives),
            entry.answer,
            TAGS_SEPARATOR.join(entry.tags),
            entry.language,
            "true" if entry.is_active else "false",
        ]
        writer.writerow([cell_neutralise(cell) for cell in cells])


def faq_csv_read(data: bytes, *, site: Site) -> list[FaqCsvRow]:
    """Parse and validate a whole file for `site`. Raises FaqCsvError listing every bad row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FaqCsvError([f"The file is not UTF-8 text (byte {exc.start}). Save it as CSV UTF-8."]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as exc:
        raise FaqCsvError([f"Row 1: {exc}"]) from exc
    unknown = [name for name in header if name and name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    problems = []
    if unknown:
        problems.append(f"Row 1: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}.")
    if missing:
        problems.append(f"Row 1: the file needs the column(s) {', '.join(missing)}.")
    if duplicated:
        problems.append(f"Row 1: the column(s) {', '.join(duplicated)} appear more than once.")
    if problems:
        raise FaqCsvError(problems)

    existing = {entry.pk: entry for entry in FaqEntry.objects.filter(site=site).defer("embedding")}
    by_question: dict[str, list[FaqEntry]] = {}
    for entry in existing.values():
        by_question.setdefault(entry.question, []).append(entry)
    rows: list[FaqCsvRow] = []
    errors: list[str] = []
    seen_ids: dict[int, int] = {}
    seen_questions: dict[str, int] = {}
    number = 1
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append(f"Row {number}: the file has more than {MAX_ROWS} entries; split it.")
                break
            if len(cells) > len(header):
                errors.append(f"Row {number}: {len(cells)} cells but only {len(header)} columns.")
                continue
            values = {name: cell_restore(cell) for name, cell in zip(header, cells, strict=False) if name}
            row, row_errors = _row_parse(number, values, existing, by_question, site)
            if row is not None and row.entry_id is not None:
                if row.entry_id in seen_ids:
                    row_errors.append(f"Row {number}: the same id as row {seen_ids[row.entry_id]}.")
                seen_ids.setdefault(row.entry_id, number)
            if row is not None:
                if row.question in seen_questions:
                    row_errors.append(f"Row {number}: the same question as row {seen_questions[row.question]}.")
                seen_questions.setdefault(row.question, number)
            if row_errors:
                errors.extend(row_errors)
            elif row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append(f"Row {number + 1}: {exc}")
    if errors:
        raise FaqCsvError(errors)
    if not rows:
        raise FaqCsvError(["The file has no entries."])
    return rows


def _row_parse(
    number: int,
    values: dict[str, str],
    existing: dict[int, FaqEntry],
    by_question: dict[str, list[FaqEntry]],
    site: Site,
) -> tuple[FaqCsvRow | None, list[str]]:
    errors: list[str] = []
    entry: FaqEntry | None = None
    raw_id = values.get("id", "").strip()
    if raw_id:
        if not raw_id.isdigit() or int(raw_id) not in existing:
            return None, [f"Row {number}: id {raw_id!r} is not an entry of this site (leave id empty for a new one)."]
        entry = existing[int(raw_id)]
    else:
        matches = by_question.get(" ".join(values.get("question", "").split()), [])
        if len(matches) > 1:
            ids = ", ".join(str(m.pk) for m in matches)
            return None, [f"Row {number}: entries {ids} have this question; give the id of the one to update."]
        entry = matches[0] if matches else None
    raw_active = values.get("is_active", "").strip().lower()
    if raw_active and raw_active not in _TRUE | _FALSE:
        errors.append(f"Row {number}: is_active must be true or false, not {values['is_active']!r}.")
    # A column the file leaves out keeps the entry's value; an empty cell empties it.
    kept_alternatives, kept_tags = (entry.alternatives, entry.tags) if entry is not None else ([], [])
    if "alternatives" in values:
        alternatives = [a for a in values["alternatives"].split("|") if a.strip()]
    else:
        alternatives = kept_alternatives
    tags = values.get("tags", ", ".join(kept_tags))
    form = FaqEntryForm(
        data={
            "site": site.pk,
            "question": values.get("question", ""),
            "alternatives": "\n".join(alternatives),
            "answer": values.get("answer", ""),
            "tags": tags,
            "language": normalise_language(values["language"]) if values.get("language", "").strip() else "",
        },
        sites=Site.objects.filter(pk=site.pk),
        entry=entry,
    )
    if not form.is_valid():
        for name, messages in form.errors.items():
            errors.extend(f"Row {number}, {name}: {message}" for message in messages)
    if errors:
        return None, errors
    data = form.cleaned_data
    return (
        FaqCsvRow(
            row=number,
            entry_id=entry.pk if entry is not None else None,
            question=data["question"],
            answer=data["answer"],
            alternatives=data["alternatives"],
            tags=data["tags"],
            is_active=None if not raw_active else raw_active in _TRUE,
            language=data["language"],
        ),
        [],
    )


@transaction.atomic
def faq_csv_import(*, site: Site, rows: list[FaqCsvRow]) -> tuple[int, int]:
    """Write validated rows: update the entries they name, create the others; then re-embed the
    site once. Returns (created, updated)."""
    ids = [row.entry_id for row in rows if row.entry_id is not None]
    entries = {e.pk: e for e in FaqEntry.objects.select_for_update().filter(site=site, pk__in=ids)}
    created = updated = 0
    for row in rows:
        entry = entries.get(row.entry_id) if row.entry_id is not None else None
        if row.entry_id is not None and entry is None:
            raise FaqCsvError([f"Row {row.row}: entry {row.entry_id} was deleted meanwhile; nothing was imported."])
        faq_entry_write(
            site=site,
            entry=entry,
            question=row.question,
            answer=row.answer,
            alternatives=row.alternatives,
            tags=row.tags,
            is_active=row.is_active if row.is_active is not None else (entry.is_active if entry else True),
            language=row.language or None,
        )
        created += entry is None
        updated += entry is not None
    faq_refresh_after_commit(site.pk)
    return created, updated
