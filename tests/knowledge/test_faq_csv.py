"""FAQ entries as CSV: export then import gives the same entries, formulas are defused, and a
file with one bad row imports nothing and names the row."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from chatbot.knowledge.faq_csv import cell_neutralise, cell_restore
from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site

pytestmark = pytest.mark.django_db

HEADER = "id,question,alternatives,answer,tags,is_active\n"


def entries_of(site: Site) -> list[tuple[Any, ...]]:
    return list(
        FaqEntry.objects.filter(site=site)
        .order_by("id")
        .values_list("id", "question", "alternatives", "answer", "tags", "is_active")
    )


@pytest.fixture
def shop_faq(shop_site: Site) -> list[FaqEntry]:
    return [
        FaqEntry.objects.create(
            site=shop_site,
            question="How long is delivery?",
            alternatives=["when will my parcel arrive", "shipping time"],
            answer='Two to four days, "usually".\nExpress: next day.',
            tags=["shipping", "delivery"],
        ),
        FaqEntry.objects.create(
            site=shop_site,
            question='=HYPERLINK("http://evil.example")',
            alternatives=["+1 call us", "@admin", "'=already quoted"],
            answer="-5% for members",
            tags=["-neg"],
            is_active=False,
        ),
        FaqEntry.objects.create(
            site=shop_site, question="Café opening hours?", answer="Täglich geöffnet, außer Sonntag."
        ),
    ]


def export(client: Client, site: Site) -> bytes:
    response = client.get(reverse("knowledge:faq_export"), {"site": site.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"faq-{site.key}-" in response["Content-Disposition"]
    return response.content


def upload(client: Client, site: Site, content: bytes | str) -> Any:
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("knowledge:faq_import"),
        {"site": site.pk, "file": SimpleUploadedFile("faq.csv", data, content_type="text/csv")},
    )


def test_an_exported_file_imported_back_gives_the_same_entries(
    shop_client: Client, shop_site: Site, shop_faq: list[FaqEntry]
) -> None:
    before = entries_of(shop_site)
    content = export(shop_client, shop_site)
    FaqEntry.objects.filter(pk=shop_faq[0].pk).update(
        question="Renamed meanwhile", answer="changed", alternatives=[], tags=[], is_active=False
    )
    FaqEntry.objects.filter(pk=shop_faq[1].pk).update(is_active=True, alternatives=["other"])
    response = upload(shop_client, shop_site, content)
    assert response.status_code == 302, response.content.decode()
    assert entries_of(shop_site) == before


def test_a_row_naming_a_deleted_entry_stops_the_whole_import(
    shop_client: Client, shop_site: Site, shop_faq: list[FaqEntry]
) -> None:
    content = export(shop_client, shop_site)
    FaqEntry.objects.filter(pk=shop_faq[0].pk).update(answer="changed meanwhile")
    deleted_id = shop_faq[2].pk
    shop_faq[2].delete()
    response = upload(shop_client, shop_site, content)
    assert response.status_code == 400
    assert f"Row 4: id &#x27;{deleted_id}&#x27; is not an entry of this site" in response.content.decode()
    assert FaqEntry.objects.get(pk=shop_faq[0].pk).answer == "changed meanwhile"


def test_cells_that_would_run_as_formulas_are_prefixed_with_an_apostrophe(
    shop_client: Client, shop_site: Site, shop_faq: list[FaqEntry]
) -> None:
    rows = list(csv.DictReader(io.StringIO(export(shop_client, shop_site).decode("utf-8-sig"))))
    risky = rows[1]
    assert risky["question"] == '\'=HYPERLINK("http://evil.example")'
    assert risky["alternatives"] == "'+1 call us | @admin | '=already quoted"
    assert risky["answer"] == "'-5% for members"
    assert risky["tags"] == "'-neg"
    assert risky["is_active"] == "false"
    assert rows[0]["alternatives"] == "when will my parcel arrive | shipping time"
    assert rows[0]["tags"] == "shipping, delivery"
    for row in rows:
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row.values())


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+x", "-x", "@x", "\tx", "\rx", "'=x", "''@x", "'plain", "plain", "", "\uff1dx", " =x", "'\u2212x"],
)
def test_neutralising_a_cell_is_undone_exactly_by_the_import(text: str) -> None:
    assert cell_restore(cell_neutralise(text)) == text
    assert cell_neutralise(text)[:1] not in ("=", "+", "-", "@", "\t", "\r", " ", "\uff1d", "\u2212")


@pytest.mark.parametrize("text", ["\uff1dHYPERLINK(1)", "\uff0b1", "\uff0d1", "\uff20x", "\u2212x", "\ufe66x", " @x"])
def test_look_alikes_of_formula_characters_are_neutralised_in_the_faq_csv(text: str) -> None:
    assert cell_neutralise(text) == "'" + text


def test_a_file_with_a_bad_row_imports_nothing_and_names_every_bad_row(shop_client: Client, shop_site: Site) -> None:
    content = (
        HEADER
        + ',"Do you gift wrap?",,"Yes, for 3 EUR.","gifts",true\n'
        + ',"Missing answer",,,,true\n'
        + ',"Bad flag","a | b","An answer.",,maybe\n'
        + ',"Do you gift wrap?",,"Twice in one file.",,\n'
    )
    response = upload(shop_client, shop_site, content)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "Row 3, answer: Write the answer." in page or "Row 3, answer: This field is required." in page
    assert "Row 4: is_active must be true or false, not &#x27;maybe&#x27;." in page
    assert "Row 5: the same question as row 2." in page
    assert "Row 2" not in page.split("Nothing was imported")[1].split("</ul>")[0]
    assert not FaqEntry.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"question,answer,colour\n", "unknown column(s) colour"),
        (b"question,tags\n", "needs the column(s) answer"),
        (b"question,answer,answer\n", "answer appear more than once"),
        (HEADER.encode(), "The file has no entries."),
        (b"question,answer\n\xff\xfe,x\n", "not UTF-8"),
        (b'question,answer\n"Q?","A",extra\n', "Row 2: 3 cells but only 2 columns."),
    ],
)
def test_a_malformed_file_is_refused_with_a_clear_error(
    shop_client: Client, shop_site: Site, content: bytes, message: str
) -> None:
    response = upload(shop_client, shop_site, content)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not FaqEntry.objects.exists()


def test_rows_update_entries_by_id_or_exact_question_and_create_the_rest(
    shop_client: Client, shop_site: Site, shop_faq: list[FaqEntry]
) -> None:
    delivery, _, cafe = shop_faq
    content = (
        HEADER
        + f'{delivery.pk},"How long does delivery take?","","Three days.","shipping",true\n'
        + ',"Café opening hours?",,"Closed on Sundays.",,false\n'
        + ',"Do you gift wrap?","gift wrapping | wrap as a present","Yes, for 3 EUR.","gifts, extras",\n'
    )
    response = upload(shop_client, shop_site, content)
    assert response.status_code == 302
    delivery.refresh_from_db()
    cafe.refresh_from_db()
    assert (delivery.question, delivery.answer, delivery.alternatives) == (
        "How long does delivery take?",
        "Three days.",
        [],
    )
    assert (cafe.answer, cafe.is_active) == ("Closed on Sundays.", False)
    new = FaqEntry.objects.get(question="Do you gift wrap?")
    assert (new.site_id, new.alternatives, new.tags, new.is_active) == (
        shop_site.pk,
        ["gift wrapping", "wrap as a present"],
        ["gifts", "extras"],
        True,
    )
    assert FaqEntry.objects.filter(site=shop_site).count() == 4


def test_an_id_of_another_sites_entry_is_refused(
    shop_client: Client, shop_site: Site, other_site: Site, shop_faq: list[FaqEntry]
) -> None:
    foreign = FaqEntry.objects.create(site=other_site, question="Theirs?", answer="Theirs.")
    response = upload(shop_client, shop_site, HEADER + f'{foreign.pk},"Mine now?",,"Mine.",,true\n')
    assert response.status_code == 400
    assert f"id &#x27;{foreign.pk}&#x27; is not an entry of this site" in response.content.decode()
    foreign.refresh_from_db()
    assert foreign.question == "Theirs?"


def test_an_operator_cannot_import_into_or_export_another_site(
    shop_client: Client, other_site: Site, shop_faq: list[FaqEntry]
) -> None:
    response = upload(shop_client, other_site, HEADER + ',"Q?",,"A.",,true\n')
    assert response.status_code == 200  # the form again: the site is not one of the choices
    assert "Select a valid choice" in response.content.decode()
    assert not FaqEntry.objects.filter(site=other_site).exists()
    assert shop_client.get(reverse("knowledge:faq_export"), {"site": other_site.pk}).status_code == 404


def test_columns_left_out_keep_the_values_of_the_entries_updated(
    shop_client: Client, shop_site: Site, shop_faq: list[FaqEntry]
) -> None:
    risky = shop_faq[1]
    content = "question,answer\n" + f'"{risky.question.replace(chr(34), chr(34) * 2)}","New answer."\n'
    assert upload(shop_client, shop_site, content).status_code == 302
    risky.refresh_from_db()
    assert (risky.answer, risky.alternatives, risky.tags, risky.is_active) == (
        "New answer.",
        ["+1 call us", "@admin", "'=already quoted"],
        ["-neg"],
        False,
    )
