import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatbot.knowledge.models import FaqEntry

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "faq.json"
    path.write_text(json.dumps(data))
    return path


def test_importing_creates_then_updates_entries_by_question_and_marks_the_index_stale(
    tmp_path: Path, shop_site: Any
) -> None:
    entries = [{"question": "Q1?", "answer": "A1", "alternatives": ["q one"]}, {"question": "Q2?", "answer": "A2"}]
    call_command("faq_import", str(write(tmp_path, entries)), site="shop", no_embed=True)
    version = type(shop_site).objects.get(pk=shop_site.pk).faq_version
    entries[0]["answer"] = "A1 updated"
    call_command("faq_import", str(write(tmp_path, entries[:1])), site="shop", no_embed=True, replace=True)
    assert list(FaqEntry.objects.values_list("question", "answer")) == [("Q1?", "A1 updated")]
    assert type(shop_site).objects.get(pk=shop_site.pk).faq_version > version


@pytest.mark.parametrize(
    "bad",
    [
        {"question": "x"},
        [{"question": "", "answer": "a"}],
        [{"question": "q"}],
        [{"question": "q", "answer": "a", "tags": "x"}],
    ],
)
def test_a_malformed_faq_file_is_refused_with_a_clear_error_and_changes_nothing(
    tmp_path: Path, shop_site: Any, bad: object
) -> None:
    with pytest.raises(CommandError):
        call_command("faq_import", str(write(tmp_path, bad)), site="shop", no_embed=True)
    assert not FaqEntry.objects.exists()


def test_an_unknown_site_is_refused(tmp_path: Path, shop_site: Any) -> None:
    with pytest.raises(CommandError, match="No site"):
        call_command("faq_import", str(write(tmp_path, [])), site="nope", no_embed=True)
