"""The REST API's contract: every endpoint, its status codes and the one error shape."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chatbot.api_keys.models import ApiKey
from chatbot.api_keys.services import api_key_revoke
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender
from chatbot.knowledge.models import FaqEntry
from chatbot.knowledge.signals import faq_edited
from chatbot.sites.models import Site
from intents.echo import ECHO_TEXT, ECHO_TOKENS
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db

# Every endpoint with a request that would succeed, and the scope it needs.
ENDPOINTS = [
    ("post", "/conversations", "chat"),
    ("get", "/conversations/{cid}", "chat"),
    ("post", "/conversations/{cid}/messages", "chat"),
    ("get", "/conversations/{cid}/messages", "chat"),
    ("post", "/conversations/{cid}/handoff", "chat"),
    ("get", "/faq", "knowledge"),
    ("post", "/faq", "knowledge"),
    ("get", "/faq/{fid}", "knowledge"),
    ("put", "/faq/{fid}", "knowledge"),
    ("patch", "/faq/{fid}", "knowledge"),
    ("delete", "/faq/{fid}", "knowledge"),
    ("post", "/faq/import", "knowledge"),
    ("get", "/transcripts", "transcripts"),
    ("get", "/usage", "usage"),
]
BODIES = {
    "/conversations/{cid}/messages": {"client_id": "c1", "text": "Hello"},
    "/faq": {"question": "Do you ship abroad?", "answer": "Yes, to the EU."},
    "/faq/{fid}": {"question": "Do you ship abroad?", "answer": "Yes."},
    "/faq/import": {"entries": [{"question": "Q1?", "answer": "A1"}]},
}


def call(api: Api, method: str, path: str, **ids: int) -> Any:
    url = path.format(**ids)
    body = BODIES.get(path)
    if method in ("get", "delete"):
        return getattr(api, method)(url)
    return getattr(api, method)(url, body if body is not None else {})


@pytest.fixture
def ids(shop_site: Site) -> dict[str, int]:
    from chatbot.conversations.services import conversation_start

    conversation = conversation_start(site=shop_site)
    entry = FaqEntry.objects.create(site=shop_site, question="Old?", answer="Old.")
    return {"cid": conversation.pk, "fid": entry.pk}


def test_the_schema_is_openapi_3_and_lists_every_endpoint(api: Api) -> None:
    response = Api(None).get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for method, path, _ in ENDPOINTS:
        templated = path.replace("{cid}", "{conversation_id}").replace("{fid}", "{faq_id}")
        assert method in schema["paths"][f"/api/v1{templated}"], (method, path)
    assert "get" in schema["paths"]["/api/v1/conversations/{conversation_id}/events"]
    assert schema["components"]["securitySchemes"]


def test_the_docs_are_served_from_this_server_without_a_cdn(api: Api) -> None:
    response = Api(None).get("/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_answers_401_without_a_key_and_with_an_unknown_one(
    method: str, path: str, scope: str, ids: dict[str, int]
) -> None:
    missing = call(Api(None), method, path, **ids)
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "unauthorized"
    unknown = call(Api("cbk_notakeynotakeynotakeynotakey"), method, path, **ids)
    assert unknown.status_code == 401
    assert error_of(unknown)["code"] == "invalid_key"


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_answers_403_to_a_key_without_its_scope(
    method: str, path: str, scope: str, ids: dict[str, int], shop_site: Site, key_for: Callable[..., str]
) -> None:
    others = ",".join(s for s in ("chat", "knowledge", "transcripts", "usage", "webhooks") if s != scope)
    response = call(Api(key_for(shop_site, others)), method, path, **ids)
    assert response.status_code == 403
    assert error_of(response)["code"] == "missing_scope"


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_succeeds_with_its_scope(
    method: str, path: str, scope: str, ids: dict[str, int], shop_site: Site, key_for: Callable[..., str]
) -> None:
    response = call(Api(key_for(shop_site, scope)), method, path, **ids)
    assert response.status_code in (200, 201, 202, 204), response.content


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in ENDPOINTS if "{" in p] + [("get", "/conversations/{cid}/events")]
)
def test_another_sites_conversation_or_entry_is_404(
    method: str, path: str, ids: dict[str, int], other_site: Site, key_for: Callable[..., str]
) -> None:
    response = call(Api(key_for(other_site)), method, path, **ids)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_revoked_key_stops_working_at_once(shop_site: Site, key_for: Callable[..., str]) -> None:
    key = key_for(shop_site)
    assert Api(key).get("/usage").status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(site=shop_site))
    response = Api(key).get("/usage")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_key"


def test_a_key_is_stored_hashed_and_its_last_use_written_at_most_once_a_minute(
    shop_site: Site, key_for: Callable[..., str], django_assert_max_num_queries: Any
) -> None:
    key = key_for(shop_site)
    api_key = ApiKey.objects.get(site=shop_site)
    assert key not in (api_key.key_hash, api_key.prefix) and key.startswith(api_key.prefix)
    assert api_key.last_used_at is None
    api = Api(key)
    api.get("/usage")
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    api.get("/usage")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    api.get("/usage")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first


def test_validation_errors_are_422_in_the_error_shape(api: Api, ids: dict[str, int]) -> None:
    response = api.post(f"/conversations/{ids['cid']}/messages", {"client_id": "has space", "text": ""})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "client_id" in error["message"] and "text" in error["message"]
    assert api.get(f"/conversations/{ids['cid']}/messages", after_seq=-1).status_code == 422
    assert api.get("/usage", **{"from": "2026-13-01"}).status_code == 422


def test_unknown_paths_and_methods_answer_in_the_error_shape(api: Api) -> None:
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = api.delete("/conversations")
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"
    assert "POST" in wrong["Allow"]


def test_a_conversation_is_started_answered_and_listed_like_the_widgets(api: Api, shop_site: Site) -> None:
    created = api.post("/conversations", {"page_url": "https://shop.example.com/cart"})
    assert created.status_code == 201
    conversation = created.json()
    assert conversation["status"] == "bot" and conversation["last_seq"] == 0
    cid = conversation["id"]
    assert Conversation.objects.get(pk=cid).site == shop_site

    sent = api.post(f"/conversations/{cid}/messages", {"client_id": "m-1", "text": "Where is my order?"})
    assert sent.status_code == 202
    assert sent.json() == {"seq": 1, "client_id": "m-1", "conversation": cid}

    results = api.get(f"/conversations/{cid}/messages").json()["results"]
    assert [(m["seq"], m["sender"]) for m in results] == [(1, "customer"), (2, "bot")]
    reply = results[1]
    assert set(reply) >= {"seq", "sender", "text", "sources", "decision", "created_at"}
    assert reply["text"] == ECHO_TEXT and reply["decision"] == "answer" and reply["reply_to"] == 1
    assert api.get(f"/conversations/{cid}/messages", after_seq=1).json()["results"] == [reply]
    assert api.get(f"/conversations/{cid}").json()["last_seq"] == 2


def test_the_same_client_id_gets_the_same_seq_and_no_second_reply(api: Api, ids: dict[str, int]) -> None:
    cid = ids["cid"]
    first = api.post(f"/conversations/{cid}/messages", {"client_id": "again", "text": "Hi"})
    second = api.post(f"/conversations/{cid}/messages", {"client_id": "again", "text": "Hi"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert Message.objects.filter(conversation_id=cid, sender=Sender.CUSTOMER).count() == 1
    assert Message.objects.filter(conversation_id=cid, sender=Sender.BOT).count() == 1


def test_a_handoff_puts_the_conversation_in_a_persons_hands_and_the_bot_stops(api: Api, ids: dict[str, int]) -> None:
    cid = ids["cid"]
    response = api.post(f"/conversations/{cid}/handoff")
    assert response.status_code == 200
    assert response.json() == {"id": cid, "status": ConversationStatus.WAITING_HUMAN}
    api.post(f"/conversations/{cid}/messages", {"client_id": "after", "text": "Anyone there?"})
    senders = [m["sender"] for m in api.get(f"/conversations/{cid}/messages").json()["results"]]
    assert senders == ["system", "customer"]  # the notice, then the message no bot answers


def test_a_closed_conversation_takes_no_more_messages(api: Api, ids: dict[str, int]) -> None:
    Conversation.objects.filter(pk=ids["cid"]).update(status=ConversationStatus.CLOSED)
    response = api.post(f"/conversations/{ids['cid']}/messages", {"client_id": "late", "text": "Hello?"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "conversation_closed"


def test_faq_entries_are_created_changed_and_deleted_and_each_edit_re_embeds(api: Api, shop_site: Site) -> None:
    edits: list[int] = []

    def heard(sender: Any, site_id: int, **_: Any) -> None:
        edits.append(site_id)

    faq_edited.connect(heard)
    try:
        created = api.post("/faq", {"question": "Wo ist mein Paket?", "answer": "Hier.", "language": "de"})
        assert created.status_code == 201
        entry = created.json()
        assert entry["language"] == "de" and entry["is_active"] is True
        patched = api.patch(f"/faq/{entry['id']}", {"answer": "Unterwegs.", "tags": ["shipping"]})
        assert patched.json()["answer"] == "Unterwegs." and patched.json()["question"] == "Wo ist mein Paket?"
        put = api.put(f"/faq/{entry['id']}", {"question": "Where is my parcel?", "answer": "On its way."})
        assert put.json()["language"] == "de"  # kept when not given
        listed = api.get("/faq", q="parcel").json()
        assert listed["count"] == 1 and listed["results"][0]["id"] == entry["id"]
        assert api.delete(f"/faq/{entry['id']}").status_code == 204
        assert api.get(f"/faq/{entry['id']}").status_code == 404
        imported = api.post(
            "/faq/import",
            {"entries": [{"question": "A?", "answer": "a"}, {"question": "B?", "answer": "b", "language": "fr"}]},
        )
        assert imported.json() == {"created": 2, "updated": 0}
        assert FaqEntry.objects.get(site=shop_site, question="B?").language == "fr"
    finally:
        faq_edited.disconnect(heard)
    assert edits == [shop_site.pk] * 5


def test_transcripts_filter_like_the_exports_and_page_with_a_cursor(
    api: Api, shop_site: Site, other_site: Site
) -> None:
    from chatbot.conversations.services import conversation_start

    mine = []
    for number in range(5):
        cid = api.post("/conversations").json()["id"]
        api.post(f"/conversations/{cid}/messages", {"client_id": f"t{number}", "text": f"Question {number}"})
        mine.append(cid)
    Conversation.objects.filter(pk=mine[0]).update(status=ConversationStatus.CLOSED)
    conversation_start(site=other_site)  # never listed

    seen: list[int] = []
    cursor = ""
    while True:
        page = api.get("/transcripts", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [t["id"] for t in page["results"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == mine
    first = api.get("/transcripts", limit=1).json()["results"][0]
    assert [m["text"] for m in first["messages"]] == ["Question 0", ECHO_TEXT]
    assert first["site"] == "shop"

    closed = api.get("/transcripts", status="closed").json()["results"]
    assert [t["id"] for t in closed] == [mine[0]]
    bad = api.get("/transcripts", status="nonsense")
    assert bad.status_code == 422 and "status" in error_of(bad)["message"]
    assert api.get("/transcripts", site="other").status_code == 404


def test_usage_counts_calls_answers_and_tokens_per_day(api: Api) -> None:
    cid = api.post("/conversations").json()["id"]
    api.post(f"/conversations/{cid}/messages", {"client_id": "u1", "text": "Hi"})
    api.post(f"/conversations/{cid}/handoff")
    today = timezone.localdate()
    response = api.get("/usage", **{"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()})
    assert response.status_code == 200
    days = response.json()["days"]
    assert [d["date"] for d in days] == [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    assert days[0] == {"date": days[0]["date"], "api_calls": 0, "bot_answers": 0, "handoffs": 0, "generated_tokens": 0}
    # Four calls: start, message, hand-off, and this one.
    assert days[1] == {
        "date": today.isoformat(),
        "api_calls": 4,
        "bot_answers": 1,
        "handoffs": 1,
        "generated_tokens": len(ECHO_TOKENS),
    }
