"""The console's knowledge pages: listing, creating, editing and deactivating entries, with the
bot able to answer from a change as soon as it is saved; who may do what; and turning a group of
unanswered questions into an entry in one step."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatbot.conversations.models import Conversation, Message, Visitor
from chatbot.knowledge.models import FaqEntry
from chatbot.replies.faq_index import faq_index_get
from chatbot.replies.loading import embedder_get
from chatbot.replies.responders import responder_for
from chatbot.sites.models import Site
from intents.types import Answer, Turn
from tests.knowledge.conftest import client_for, make_operator

pytestmark = pytest.mark.django_db


def entry(site: Site, question: str, **fields: Any) -> FaqEntry:
    return FaqEntry.objects.create(site=site, question=question, answer=fields.pop("answer", "An answer."), **fields)


def bot_reply(site: Site, question: str) -> Answer:
    site.refresh_from_db()
    for piece in responder_for(site=site).answer([Turn(sender="customer", text=question)]):
        if isinstance(piece, Answer):
            return piece
    raise AssertionError("no answer")


def best_matches(site: Site, question: str) -> list[int]:
    """The ids of the bot's FAQ index's three best entries for `question`."""
    site.refresh_from_db()
    index = faq_index_get(site=site)
    return [m.document.id for m in index.retrieve(question, embedder_get().encode([question])[0], k=3)]


def form_data(site: Site, **overrides: str) -> dict[str, str]:
    data = {
        "site": str(site.pk),
        "question": "Are your candles made of soy wax?",
        "alternatives": "What wax are the candles made from?\nAre the candles paraffin free?",
        "answer": "Yes: all our candles are 100% soy wax with cotton wicks.",
        "tags": "candles, materials",
        "is_active": "on",
    }
    data.update(overrides)
    return data


# --- Listing and access ---


def test_the_list_shows_the_operators_sites_entries_with_search_status_filter_and_counts(
    shop_client: Client, shop_site: Site, other_site: Site
) -> None:
    entry(shop_site, "How long is delivery?", tags=["shipping"])
    entry(shop_site, "Do you ship abroad?", is_active=False)
    entry(shop_site, "Can I return an item?")
    entry(other_site, "Their secret delivery question?")
    url = reverse("knowledge:faq_list")
    assert url == "/console/knowledge/"

    page = shop_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "How long is delivery?" in text and "Can I return an item?" in text
    assert "Their secret" not in text
    assert [page.context["counts"].total, page.context["counts"].active, page.context["counts"].inactive] == [3, 2, 1]

    found = shop_client.get(url, {"q": "shipping"}).context["rows"]
    assert [e.question for e, _ in found] == ["How long is delivery?"]
    inactive = shop_client.get(url, {"status": "inactive"}).context["rows"]
    assert [e.question for e, _ in inactive] == ["Do you ship abroad?"]
    assert shop_client.get(url, {"site": shop_site.pk}).status_code == 200
    assert shop_client.get(url, {"site": other_site.pk}).status_code == 404


def test_an_admin_sees_every_sites_entries(admin_client: Client, shop_site: Site, other_site: Site) -> None:
    entry(shop_site, "Mine?")
    entry(other_site, "Theirs?")
    rows = admin_client.get(reverse("knowledge:faq_list")).context["rows"]
    assert {e.question for e, _ in rows} == {"Mine?", "Theirs?"}


def test_another_sites_entry_can_be_neither_seen_nor_edited_nor_deactivated(
    shop_client: Client, other_site: Site
) -> None:
    theirs = entry(other_site, "Theirs?", answer="Their answer.")
    assert shop_client.get(reverse("knowledge:faq_edit", args=[theirs.pk])).status_code == 404
    edited = shop_client.post(reverse("knowledge:faq_edit", args=[theirs.pk]), form_data(other_site, question="Mine"))
    assert edited.status_code == 404
    deactivated = shop_client.post(reverse("knowledge:faq_active", args=[theirs.pk]), {"active": "0"})
    assert deactivated.status_code == 404
    created = shop_client.post(reverse("knowledge:faq_create"), form_data(other_site))
    assert created.status_code == 400
    assert "Select a valid choice" in created.content.decode()
    theirs.refresh_from_db()
    assert (theirs.question, theirs.answer, theirs.is_active) == ("Theirs?", "Their answer.", True)
    assert FaqEntry.objects.count() == 1


def test_the_pages_need_a_signed_in_console_account(client: Client, shop_site: Site) -> None:
    from django.contrib.auth import get_user_model

    anonymous = client.get(reverse("knowledge:faq_list"))
    assert anonymous.status_code == 302 and "/console/login/" in anonymous["Location"]
    client.force_login(get_user_model().objects.create_user(username="nobody", password="x"))
    assert client.get(reverse("knowledge:faq_list")).status_code == 403
    assert client.get(reverse("knowledge:unanswered")).status_code == 403


def test_only_admins_delete_entries(shop_client: Client, admin_client: Client, shop_site: Site) -> None:
    doomed = entry(shop_site, "Old question?")
    assert shop_client.post(reverse("knowledge:faq_delete", args=[doomed.pk])).status_code == 403
    assert FaqEntry.objects.filter(pk=doomed.pk).exists()
    assert admin_client.post(reverse("knowledge:faq_delete", args=[doomed.pk])).status_code == 302
    assert not FaqEntry.objects.filter(pk=doomed.pk).exists()


def test_the_pages_have_no_inline_script_or_style_for_the_consoles_csp(shop_client: Client, shop_site: Site) -> None:
    existing = entry(shop_site, "How long is delivery?")
    for url in (
        reverse("knowledge:faq_list"),
        reverse("knowledge:faq_create"),
        reverse("knowledge:faq_edit", args=[existing.pk]),
        reverse("knowledge:faq_import"),
        reverse("knowledge:unanswered"),
    ):
        response = shop_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "<style" not in html and 'style="' not in html, url
        assert html.count("<script") == html.count("<script src="), url
        assert "script-src 'self'" in response["Content-Security-Policy"]


# --- Editing ---


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"answer": "  "}, "answer", "This field is required."),
        ({"question": ""}, "question", "This field is required."),
        ({"question": "x" * 501}, "question", "at most 500 characters"),
        ({"alternatives": "ok\nnot | this"}, "alternatives", "cannot contain the character |"),
        ({"question": "How long is delivery?"}, "question", "already has an entry with this question"),
    ],
)
def test_an_invalid_entry_is_shown_again_with_the_error_and_nothing_is_saved(
    shop_client: Client, shop_site: Site, overrides: dict[str, str], field: str, message: str
) -> None:
    entry(shop_site, "How long is delivery?")
    response = shop_client.post(reverse("knowledge:faq_create"), form_data(shop_site, **overrides))
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert "nothing was saved" in response.content.decode()
    assert FaqEntry.objects.count() == 1
    # What was typed is still there.
    assert response.context["form"].data["tags"] == "candles, materials"


def test_saving_queues_the_re_embedding_on_the_inference_workers_with_celery(
    shop_client: Client,
    shop_site: Site,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from chatbot.replies import tasks

    settings.CHATBOT_DISPATCH = "celery"
    queued: list[int] = []
    monkeypatch.setattr(tasks.faq_refresh, "apply_async", lambda args, **options: queued.append(*args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = shop_client.post(reverse("knowledge:faq_create"), form_data(shop_site))
    assert response.status_code == 302
    assert len(callbacks) == 1 and queued == [shop_site.pk]
    assert settings.CELERY_TASK_ROUTES[tasks.faq_refresh.name] == {"queue": "inference"}


def test_saving_re_embeds_on_a_thread_of_the_web_process_in_process_mode(
    shop_client: Client,
    shop_site: Site,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from chatbot.replies import faq_index

    settings.CHATBOT_DISPATCH = "inprocess"
    ran = threading.Event()
    threads: list[str] = []

    def refresh(*, site_id: int) -> int:
        threads.append(threading.current_thread().name)
        ran.set()
        return 0

    monkeypatch.setattr(faq_index, "faq_refresh", refresh)
    with django_capture_on_commit_callbacks(execute=True):
        shop_client.post(reverse("knowledge:faq_create"), form_data(shop_site))
    assert ran.wait(10)
    assert threads == [f"faq-embed-{shop_site.pk}"]


def test_nothing_is_embedded_before_the_save_commits(
    shop_client: Client, shop_site: Site, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shop_client.post(reverse("knowledge:faq_create"), form_data(shop_site))
    created = FaqEntry.objects.get()
    assert len(callbacks) == 1 and created.embedding is None


@pytest.mark.slow
def test_a_created_entry_is_embedded_at_once_and_the_bot_answers_with_it(
    shop_client: Client, demo_site: Site, django_capture_on_commit_callbacks: Any
) -> None:
    operator_client = client_for(make_operator("lena", sites=[demo_site]))
    assert bot_reply(demo_site, "is the candle wax soy based?").decision == "handoff"
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(reverse("knowledge:faq_create"), form_data(demo_site))
    assert response.status_code == 302
    created = FaqEntry.objects.get(question="Are your candles made of soy wax?")
    assert created.embedding is not None and created.embedded_hash == created.content_hash()
    # one row per embedded text: the question, two alternatives, the answer and its sentences
    assert len(created.embedded_texts()) == 3 + 1 + 1
    assert len(bytes(created.embedding)) == len(created.embedded_texts()) * 384 * 4
    assert created.tags == ["candles", "materials"]
    assert best_matches(demo_site, "Are your candles made of soy wax?")[0] == created.pk
    answer = bot_reply(demo_site, "is the candle wax soy based?")
    assert (answer.decision, answer.sources[0].id) == ("answer", created.pk)


@pytest.mark.slow
def test_an_edit_is_re_embedded_and_a_deactivated_entry_is_no_longer_answered(
    demo_site: Site, django_capture_on_commit_callbacks: Any
) -> None:
    operator_client = client_for(make_operator("lena", sites=[demo_site]))
    wrapping = FaqEntry.objects.get(site=demo_site, question="Do you offer gift wrapping?")
    assert bot_reply(demo_site, "can my present be wrapped?").sources[0].id == wrapping.pk
    old_hash = wrapping.embedded_hash

    edit = reverse("knowledge:faq_edit", args=[wrapping.pk])
    data = form_data(demo_site, question="Do you offer gift wrapping?", alternatives="can you wrap my present")
    data["answer"] = "Yes, for 3 EUR: tick 'gift wrap' at checkout."
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_client.post(edit, data).status_code == 302
    wrapping.refresh_from_db()
    assert wrapping.embedded_hash == wrapping.content_hash() != old_hash
    # the new answer, without its own "Yes," (written for "Do you offer gift wrapping?", not "a present")
    assert bot_reply(demo_site, "can my present be wrapped?").text == "For 3 EUR: tick 'gift wrap' at checkout."

    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(reverse("knowledge:faq_active", args=[wrapping.pk]), {"active": "0"})
    wrapping.refresh_from_db()
    assert not wrapping.is_active
    assert wrapping.pk not in best_matches(demo_site, "Do you offer gift wrapping?")
    assert all(s.id != wrapping.pk for s in bot_reply(demo_site, "can my present be wrapped?").sources)

    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(reverse("knowledge:faq_active", args=[wrapping.pk]), {"active": "1"})
    assert bot_reply(demo_site, "can my present be wrapped?").sources[0].id == wrapping.pk


# --- Unanswered questions ---


def handed_off(site: Site, question: str, reply: str = "") -> Message:
    conversation = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
    asked = Message.objects.create(conversation=conversation, seq=1, sender="customer", text=question)
    Message.objects.create(
        conversation=conversation,
        seq=2,
        sender="bot",
        text="Let me get a colleague.",
        reply_to=asked,
        decision="handoff",
        confidence=0.2,
        intent="out_of_scope",
    )
    Conversation.objects.filter(pk=conversation.pk).update(status="human", handed_off_at=timezone.now())
    if reply:
        Message.objects.create(conversation=conversation, seq=3, sender="operator", text=reply)
    return asked


def first_form(html: str, css_class: str) -> dict[str, str]:
    """The fields of the first <form class=css_class> in the page (inputs and textareas)."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.done, self.textarea = False, False, ""
            self.fields: dict[str, str] = {}

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = {k: v or "" for k, v in attrs}
            if tag == "form" and css_class in found.get("class", "").split() and not self.done:
                self.inside = True
            elif self.inside and tag == "input" and found.get("name"):
                self.fields[found["name"]] = found.get("value", "")
            elif self.inside and tag == "textarea":
                self.textarea = found["name"]
                self.fields[self.textarea] = ""

        def handle_data(self, data: str) -> None:
            if self.textarea:
                self.fields[self.textarea] += data

        def handle_endtag(self, tag: str) -> None:
            if tag == "textarea":
                self.textarea = ""
            elif tag == "form" and self.inside:
                self.inside, self.done = False, True

    reader = Reader()
    reader.feed(html)
    return reader.fields


def test_the_unanswered_page_checks_its_dates(shop_client: Client, shop_site: Site) -> None:
    url = reverse("knowledge:unanswered")
    assert url == "/console/knowledge/unanswered/"
    empty = shop_client.get(url)
    assert empty.status_code == 200
    assert "No unanswered questions in this period." in empty.content.decode()
    today = timezone.localdate()
    reversed_range = shop_client.get(url, {"start": today, "end": today - timedelta(days=3)})
    assert "The start date is after the end date." in reversed_range.content.decode()
    assert shop_client.get(url, {"site": 999999}).context["form"].errors["site"]


@pytest.mark.slow
def test_a_cluster_of_unanswered_questions_becomes_an_answerable_entry_in_one_step(
    demo_site: Site, other_site: Site, django_capture_on_commit_callbacks: Any
) -> None:
    operator_client = client_for(make_operator("lena", sites=[demo_site]))
    reply = "Yes, every candle is pure soy wax with a cotton wick."
    asked = [
        handed_off(demo_site, "Are your candles made of soy wax?", reply),
        handed_off(demo_site, "What wax do you use for the candles?", reply),
        handed_off(demo_site, "are the candles soy or paraffin", "They are soy."),
        handed_off(demo_site, "Can I bring my dog into the shop?", "Dogs are welcome!"),
    ]
    handed_off(other_site, "Are your candles made of soy wax?", "Not theirs to see.")

    page = operator_client.get(reverse("knowledge:unanswered"))
    assert page.status_code == 200
    candles = page.context["cards"][0]
    assert candles.cluster.size == 3
    assert sorted(candles.cluster.message_ids) == sorted(m.pk for m in asked[:3])
    assert candles.answer == reply  # the team's most frequent reply
    assert "Not theirs to see." not in page.content.decode()
    assert reply in page.content.decode()

    # The first cluster's "Create FAQ entry" form, as the browser would send it.
    form = first_form(page.content.decode(), "kn-to-faq")
    assert form["question"] == candles.cluster.label and form["answer"] == reply
    assert form["site"] == str(demo_site.pk) and form["next"] == reverse("knowledge:unanswered")
    review = operator_client.post(reverse("knowledge:faq_create"), {**form, "action": "review"})
    assert review.status_code == 200 and not FaqEntry.objects.filter(answer=reply).exists()
    assert review.context["form"].initial["question"] == candles.cluster.label

    with django_capture_on_commit_callbacks(execute=True):
        created = operator_client.post(reverse("knowledge:faq_create"), {**form, "action": "create"})
    assert created.status_code == 302 and created["Location"] == reverse("knowledge:unanswered")
    new = FaqEntry.objects.get(site=demo_site, answer=reply)
    others = {q for q in candles.cluster.questions if q != candles.cluster.label}
    assert new.question == candles.cluster.label and set(new.alternatives) == others
    assert new.embedded_hash == new.content_hash()
    answer = bot_reply(demo_site, "is the candle wax soy based?")
    # the answer's own "Yes," is the team's answer to its questions; "based" is in none of them
    assert (answer.decision, answer.sources[0].id) == ("answer", new.pk)
    assert answer.text == "Every candle is pure soy wax with a cotton wick."
    assert bot_reply(demo_site, "are the candles soy wax?").text == reply


def test_the_unanswered_page_defaults_to_the_last_thirty_days_shown_in_the_form(
    shop_client: Client, shop_site: Site
) -> None:
    form = shop_client.get(reverse("knowledge:unanswered")).context["form"]
    today = timezone.localdate()
    assert (form.cleaned_data["start"], form.cleaned_data["end"]) == (today - timedelta(days=29), today)
    assert f'value="{today.isoformat()}"' in str(form["end"])
    week = shop_client.get(reverse("knowledge:unanswered"), {"end": "2025-03-07"}).context["form"]
    assert week.cleaned_data["start"].isoformat() == "2025-02-06"
    too_long = shop_client.get(reverse("knowledge:unanswered"), {"start": "2024-01-01", "end": "2025-03-07"})
    assert "Choose at most 366 days." in too_long.content.decode()
