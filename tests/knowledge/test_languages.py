"""FAQ entries per language: the console form, CSV and JSON export and import carry each entry's
language, and the demo shop's Chinese entries load beside its English ones."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.services import faq_entries_from_file, faq_import
from chatbot.sites.models import Site
from intents.languages import CHINESE, detect_language

pytestmark = pytest.mark.django_db

KNOWLEDGE = Path(__file__).resolve().parents[2] / "chatbot" / "knowledge"


def _upload(client: Client, site: Site, content: str) -> Any:
    upload = SimpleUploadedFile("faq.csv", content.encode(), content_type="text/csv")
    return client.post(reverse("knowledge:faq_import"), {"site": site.pk, "file": upload})


def test_a_csv_row_sets_the_language_of_its_entry(shop_client: Client, shop_site: Site) -> None:
    content = "question,answer,language\n运费多少钱？,满60欧元包邮。,zh-CN\nHow much is shipping?,Free over 60.,\n"
    response = _upload(shop_client, shop_site, content)
    assert response.status_code == 302, response.content.decode()
    assert FaqEntry.objects.get(question="运费多少钱？").language == CHINESE
    assert FaqEntry.objects.get(question="How much is shipping?").language == shop_site.language


def test_an_unknown_language_is_refused_with_its_row(shop_client: Client, shop_site: Site) -> None:
    response = _upload(shop_client, shop_site, "question,answer,language\nQ?,A.,klingon\n")
    assert response.status_code == 400
    assert "Row 2, language" in response.content.decode()
    assert not FaqEntry.objects.exists()


def test_a_file_without_a_language_column_keeps_each_entrys_language(shop_client: Client, shop_site: Site) -> None:
    entry = FaqEntry.objects.create(site=shop_site, question="运费多少钱？", answer="旧的答案", language=CHINESE)
    response = _upload(shop_client, shop_site, f"id,question,answer\n{entry.pk},运费多少钱？,新的答案\n")
    assert response.status_code == 302, response.content.decode()
    entry.refresh_from_db()
    assert (entry.answer, entry.language) == ("新的答案", CHINESE)


def test_the_csv_and_json_exports_carry_the_language(shop_client: Client, shop_site: Site) -> None:
    FaqEntry.objects.create(site=shop_site, question="怎么退货？", answer="30天内可退。", language=CHINESE)
    FaqEntry.objects.create(site=shop_site, question="How do I return?", answer="Within 30 days.")
    response = shop_client.get(reverse("knowledge:faq_export"), {"site": shop_site.pk})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {(r["question"], r["language"]) for r in rows} == {("怎么退货？", CHINESE), ("How do I return?", "en")}
    response = shop_client.get(reverse("knowledge:faq_export"), {"site": shop_site.pk, "format": "json"})
    assert response["Content-Type"] == "application/json; charset=utf-8"
    items = json.loads(response.content)
    assert {(i["question"], i["language"]) for i in items} == {("怎么退货？", CHINESE), ("How do I return?", "en")}


def test_a_json_export_imports_into_another_site_with_its_languages(
    shop_client: Client, shop_site: Site, tmp_path: Path
) -> None:
    FaqEntry.objects.create(site=shop_site, question="怎么退货？", answer="30天内可退。", language=CHINESE, tags=["r"])
    response = shop_client.get(reverse("knowledge:faq_export"), {"site": shop_site.pk, "format": "json"})
    path = tmp_path / "faq.json"
    path.write_bytes(response.content)
    other = Site.objects.create(key="other", name="Other")
    assert faq_import(site=other, entries=faq_entries_from_file(path)) == (1, 0)
    assert FaqEntry.objects.get(site=other).language == CHINESE


def test_the_console_form_edits_an_entrys_language(shop_client: Client, shop_site: Site) -> None:
    entry = FaqEntry.objects.create(site=shop_site, question="运费多少钱？", answer="满60欧元包邮。")
    page = shop_client.get(reverse("knowledge:faq_edit", args=[entry.pk])).content.decode()
    assert 'name="language"' in page
    response = shop_client.post(
        reverse("knowledge:faq_edit", args=[entry.pk]),
        {"question": entry.question, "answer": entry.answer, "language": CHINESE, "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()
    entry.refresh_from_db()
    assert entry.language == CHINESE
    listed = shop_client.get(reverse("knowledge:faq_list"), {"language": CHINESE}).content.decode()
    assert "运费多少钱？" in listed


def test_the_demo_shop_has_a_chinese_entry_for_every_english_one() -> None:
    english = json.loads((KNOWLEDGE / "demo_faq.json").read_text(encoding="utf-8"))
    chinese = json.loads((KNOWLEDGE / "demo_faq_zh.json").read_text(encoding="utf-8"))
    assert len(chinese) == len(english)
    for zh, en in zip(chinese, english, strict=True):
        assert zh["language"] == CHINESE
        assert zh["tags"] == en["tags"]
        assert len(zh["alternatives"]) >= 8, zh["question"]
        for text in (zh["question"], zh["answer"], *zh["alternatives"]):
            assert detect_language(text) == CHINESE, text
    assert len({zh["question"] for zh in chinese}) == len(chinese)


def test_the_demo_setup_loads_the_shop_in_english_and_chinese() -> None:
    from django.core.management import call_command

    call_command("demo_setup", "--no-embed", "--no-admin")
    site = Site.objects.get(key="demo")
    english = FaqEntry.objects.filter(site=site, language="en").count()
    assert english == FaqEntry.objects.filter(site=site, language=CHINESE).count() == 61
    assert site.served_languages == ["en", CHINESE]
    assert detect_language(site.greeting_for(CHINESE)) == CHINESE
    assert "Lumen & Loom" in site.segmentation_terms
    call_command("demo_setup", "--no-embed", "--no-admin")  # run again: still one entry of each
    assert FaqEntry.objects.filter(site=site).count() == 122
