"""The console's Learning page: admins start runs, watch them and read their reports."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chatbot.console.models import Role
from chatbot.knowledge.models import FaqEntry
from chatbot.learning.models import RunStatus, TrainingRun
from chatbot.learning.services import training_run_request
from tests.console.conftest import make_operator
from tests.learning.test_runs import FakeRetrainer

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(shop_site: Any) -> Client:
    client = Client()
    client.force_login(make_operator("ada", sites=[shop_site], role=Role.ADMIN).user)
    return client


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, shop_site: Any) -> dict[str, FakeRetrainer]:
    from chatbot.learning import services

    FaqEntry.objects.create(site=shop_site, question="Do you ship abroad?", alternatives=["Abroad?"], answer="Yes.")
    retrainers = {
        "intents": FakeRetrainer(0.9, 0.5, kind="intents"),
        "sentiment": FakeRetrainer(0.6, 0.8, kind="sentiment"),
        "dialogue": FakeRetrainer(0.9, 0.5, kind="dialogue"),
    }
    monkeypatch.setattr(services, "retrainers_load", lambda: retrainers)
    return retrainers


def test_operators_who_are_not_admins_cannot_open_or_start_retraining(shop_site: Any) -> None:
    client = Client()
    client.force_login(make_operator("olly", sites=[shop_site]).user)

    assert client.get("/console/learning/").status_code == 403
    assert client.post("/console/learning/retrain/", {"kinds": ["sentiment"]}).status_code == 403
    assert 'href="/console/learning/"' not in client.get("/console/").content.decode()
    assert not TrainingRun.objects.exists()


def test_retrain_now_runs_a_cycle_and_the_page_shows_its_report(
    admin_client: Client, fakes: dict[str, FakeRetrainer], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/console/learning/retrain/", {"kinds": ["sentiment", "dialogue"]})
    assert response.status_code == 302

    run = TrainingRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.requested_by == "ada" and run.kinds == ["sentiment", "dialogue"]
    page = admin_client.get("/console/learning/").content.decode()
    assert 'data-kind="sentiment"' in page and "outcome-kept" in page
    assert "worse: macro_f1 0.6000 &lt; 0.8000" in page
    assert 'data-kind="dialogue"' in page and "outcome-promoted" in page
    assert f"/console/learning/runs/{run.pk}/dataset.jsonl" in page


def test_the_data_set_of_a_run_downloads_as_jsonl(
    admin_client: Client, fakes: dict[str, FakeRetrainer], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/console/learning/retrain/", {"kinds": ["dialogue"]})
    run = TrainingRun.objects.get()

    response = admin_client.get(f"/console/learning/runs/{run.pk}/dataset.jsonl")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == run.dataset_stats["pairs"] == 2  # both phrasings of the FAQ entry


def test_the_status_of_an_open_run_is_polled_as_json_and_a_second_run_is_refused(admin_client: Client) -> None:
    run = training_run_request(kinds=["sentiment"], dispatch=False)

    status = admin_client.get(f"/console/learning/runs/{run.pk}/status.json").json()
    assert status == {
        "id": run.pk,
        "status": "queued",
        "is_open": True,
        "stage": "",
        "progress": 0.0,
        "error": "",
        "results": {},
    }
    page = admin_client.get("/console/learning/").content.decode()
    assert 'data-testid="run-progress"' in page

    response = admin_client.post("/console/learning/retrain/", {"kinds": ["dialogue"]}, follow=True)
    assert f"Retraining run {run.pk} is still going" in response.content.decode()
    assert TrainingRun.objects.count() == 1


def test_asking_for_no_model_is_refused_with_a_message(admin_client: Client) -> None:
    response = admin_client.post("/console/learning/retrain/", {}, follow=True)

    assert "Choose models to retrain" in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_an_operator_corrects_a_customer_messages_sentiment_for_the_next_training_run(
    shop_site: Any, conversation_of: Any
) -> None:
    from chatbot.learning.selectors import sentiment_corrections
    from chatbot.sites.models import Site

    client = Client()
    client.force_login(make_operator("olly", sites=[shop_site]).user)
    question, answer = conversation_of(("customer", "Great, another delay. Just great."), ("bot", "Sorry!"))
    other_site = Site.objects.create(key="other", name="Other")
    from chatbot.conversations.models import Conversation, Message, Visitor

    foreign = Message.objects.create(
        conversation=Conversation.objects.create(site=other_site, visitor=Visitor.objects.create(site=other_site)),
        seq=1,
        sender="customer",
        text="hello",
    )

    def url(message: Any) -> str:
        return f"/console/learning/conversations/{message.conversation_id}/messages/{message.seq}/sentiment/"

    ok = client.post(url(question), {"label": "negative"})
    assert ok.status_code == 200
    assert ok.json() == {"conversation": question.conversation_id, "seq": question.seq, "label": "negative"}
    assert client.post(url(answer), {"label": "negative"}).status_code == 400
    assert client.post(url(foreign), {"label": "neutral"}).status_code == 400
    bad = client.post(url(question), {"label": "furious"})
    assert bad.status_code == 400 and "negative, neutral, positive" in bad.json()["error"]

    assert sentiment_corrections(site=shop_site) == [("Great, another delay. Just great.", "negative")]
    assert sentiment_corrections(site=other_site) == []
