"""Tenancy: an operator or API key of organisation A never sees or touches anything of B.

Every URL of the project is in the matrix below (or among the public ones, with the reason), so a
new endpoint that is in neither fails `test_every_endpoint_is_in_the_matrix`. Each probe runs with
A's credentials of its kind (the console as A's admin and A's operator; the API with an A key
holding every scope; the export API with an A admin's token) against B's objects, and checks that
B's marker strings never appear in what A gets back (`hidden`) or that A is refused (`refused`),
and that nothing of B changed either way. Where a probe could show B's data, it also runs with B's
own credentials, which must see it: so a probe that would miss a leak fails instead."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from chatbot.api_keys.models import ApiKey
from chatbot.api_keys.services import api_key_create
from chatbot.console.models import CannedResponse, Note, Operator, Role
from chatbot.conversations.models import ContactRequest, Conversation, Message, Visitor
from chatbot.conversations.services import conversation_handoff_request, message_receive
from chatbot.exports.models import ApiToken
from chatbot.exports.services import api_token_create
from chatbot.knowledge.models import FaqEntry
from chatbot.learning.models import TrainingRun
from chatbot.sites.models import Organisation, Site
from chatbot.usage.services import usage_api_call_count
from chatbot.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db

# Strings only B's data contains.
B_MARKERS = (
    "BravoShopName",
    "bravosite",
    "bravo-org",
    "bravo-secret",
    "bravo-hooks",
    "bravo-token",
    "bravo-key",
    "bravo-canned",
    "bravo-contact",
    "bravo-note",
)

# Reachable without an organisation's data: what they serve is the same for everyone.
PUBLIC = {
    "": "the demo page (the demo site's widget)",
    "healthz": "liveness",
    "console/login/": "sign-in",
    "console/login/code/": "sign-in, second step",
    "console/logout/": "sign-out",
    "console/two-factor/": "the signed-in user's own second factor",
    "console/jsi18n/": "the console's JavaScript translations, the same for everyone",
    "api/v1/openapi.json": "the API's schema",
    "api/v1/docs": "the API's docs",
    "api/v1/": "the API's root document",
    "api/v1/^(?P<path>.*)$": "the API's JSON 404",
    "^api(?:/(?P<path>.*))?$": "the API's JSON 404",
}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # formatted with the world's ids, e.g. "/console/knowledge/{b_faq}/"
    expect: str  # "hidden": no B marker in the answer; "refused": 400, 403 or 404
    data: dict[str, Any] = field(default_factory=dict)
    # B's own credentials see B's data here (a marker where a GET hides it, else a success)
    control: bool = False
    json: bool = False  # send `data` as a JSON body (the API)


def hidden(path: str, *, control: bool = True, **data: Any) -> Probe:
    return Probe("GET", path, "hidden", data, control)


def refused(method: str, path: str, *, control: bool = False, json: bool = False, **data: Any) -> Probe:
    return Probe(method, path, "refused", data, control, json)


FAQ_CSV = b"question,answer\nPlanted by A?,Yes.\n"
FAQ_IN = {"question": "Mine now?", "answer": "Yes.", "alternatives": [], "tags": [], "is_active": True}
HOOK_IN = {"url": "https://x.example.com/in", "events": ["rating.created"]}

# route -> (credentials, probes)
MATRIX: dict[str, tuple[str, list[Probe]]] = {
    # --- the console ---
    "console/": ("console", [hidden("/console/")]),
    "console/organisation/": ("console", [hidden("/console/organisation/")]),
    # The operator's own console language: nothing of any organisation.
    "console/language/": (
        "console",
        [Probe("POST", "/console/language/", "hidden", {"language": "en", "next": "/console/"}, control=True)],
    ),
    "console/organisation/operators/<int:operator_id>/": (
        "console",
        [refused("POST", "/console/organisation/operators/{b_operator}/", role="admin", sites="{b_site}")],
    ),
    "console/knowledge/": ("console", [hidden("/console/knowledge/"), hidden("/console/knowledge/?site={b_site}")]),
    "console/knowledge/new/": (
        "console",
        [refused("POST", "/console/knowledge/new/", site="{b_site}", question="Planted?", answer="Yes.")],
    ),
    "console/knowledge/<int:entry_id>/": (
        "console",
        [
            refused("GET", "/console/knowledge/{b_faq}/", control=True),
            refused("POST", "/console/knowledge/{b_faq}/", site="{b_site}", question="Changed?", answer="Changed."),
        ],
    ),
    "console/knowledge/<int:entry_id>/active/": ("console", [refused("POST", "/console/knowledge/{b_faq}/active/")]),
    "console/knowledge/<int:entry_id>/delete/": ("console", [refused("POST", "/console/knowledge/{b_faq}/delete/")]),
    "console/knowledge/export.csv": (
        "console",
        [hidden("/console/knowledge/export.csv"), refused("GET", "/console/knowledge/export.csv?site={b_site}")],
    ),
    "console/knowledge/import/": (
        "console",
        [Probe("POST", "/console/knowledge/import/", "hidden", {"site": "{b_site}", "file": FAQ_CSV}, control=True)],
    ),
    "console/knowledge/unanswered/": (
        "console",
        [hidden("/console/knowledge/unanswered/"), hidden("/console/knowledge/unanswered/?site={b_site}")],
    ),
    "console/analytics/": ("console", [hidden("/console/analytics/")]),
    "console/analytics/data": (
        "console",
        [hidden("/console/analytics/data", control=False), refused("GET", "/console/analytics/data?site={b_site}")],
    ),
    "console/analytics/unanswered": (
        "console",
        [hidden("/console/analytics/unanswered"), refused("GET", "/console/analytics/unanswered?site={b_site}")],
    ),
    "console/analytics/hot-topics": (
        "console",
        [
            hidden("/console/analytics/hot-topics", control=False),
            refused("GET", "/console/analytics/hot-topics?site={b_site}"),
        ],
    ),
    "console/analytics/hot-topics/refresh": (
        "console",
        [refused("POST", "/console/analytics/hot-topics/refresh", site="{b_site}")],
    ),
    "console/exports/": ("console", [hidden("/console/exports/")]),
    "console/exports/download/": (
        "console",
        [
            hidden("/console/exports/download/?format=messages.csv"),
            refused("GET", "/console/exports/download/?format=messages.csv&site=bravosite"),
        ],
    ),
    "console/exports/tokens/": (
        "console",
        [refused("POST", "/console/exports/tokens/", name="x", user="{b_admin_user}")],
    ),
    "console/exports/tokens/<int:token_id>/revoke/": (
        "console",
        [refused("POST", "/console/exports/tokens/{b_token}/revoke/")],
    ),
    "console/exports/visitor/": (
        "console",
        [
            refused("POST", "/console/exports/visitor/", visitor="{b_visitor}", action="export"),
            refused("POST", "/console/exports/visitor/", visitor="{b_visitor}", action="erase", confirm="ERASE"),
        ],
    ),
    "console/learning/": ("console", [refused("GET", "/console/learning/")]),
    "console/learning/retrain/": ("console", [refused("POST", "/console/learning/retrain/", kinds="intents")]),
    "console/learning/runs/<int:run_id>/status.json": (
        "console",
        [refused("GET", "/console/learning/runs/{b_run}/status.json")],
    ),
    "console/learning/runs/<int:run_id>/dataset.jsonl": (
        "console",
        [refused("GET", "/console/learning/runs/{b_run}/dataset.jsonl")],
    ),
    "console/learning/conversations/<int:conversation_id>/messages/<int:seq>/sentiment/": (
        "console",
        [
            refused(
                "POST", "/console/learning/conversations/{b_conversation}/messages/{b_seq}/sentiment/", label="negative"
            )
        ],
    ),
    "console/api/keys/": ("console", [hidden("/console/api/keys/")]),
    "console/api/keys/create": (
        "console",
        [refused("POST", "/console/api/keys/create", site="{b_site}", scopes="chat")],
    ),
    "console/api/keys/<int:key_id>/revoke": ("console", [refused("POST", "/console/api/keys/{b_key}/revoke")]),
    "console/api/usage/": (
        "console",
        [hidden("/console/api/usage/"), hidden("/console/api/usage/?site=bravosite", control=False)],
    ),
    "console/api/usage/invoice.csv": (
        "console",
        [
            hidden("/console/api/usage/invoice.csv?month={month}"),
            # Only the install's own staff choose another organisation.
            hidden("/console/api/usage/invoice.csv?month={month}&organisation=bravo-org"),
        ],
    ),
    "console/webhooks/": ("console", [hidden("/console/webhooks/")]),
    "console/webhooks/new/": (
        "console",
        [
            refused(
                "POST", "/console/webhooks/new/", site="{b_site}", url="https://x.example.com/", events="rating.created"
            )
        ],
    ),
    "console/webhooks/<int:endpoint_id>/": (
        "console",
        [
            refused("GET", "/console/webhooks/{b_endpoint}/", control=True),
            refused(
                "POST",
                "/console/webhooks/{b_endpoint}/",
                site="{b_site}",
                url="https://x.example.com/",
                events="rating.created",
            ),
        ],
    ),
    "console/webhooks/<int:endpoint_id>/rotate/": (
        "console",
        [refused("POST", "/console/webhooks/{b_endpoint}/rotate/", overlap_hours="0")],
    ),
    "console/webhooks/<int:endpoint_id>/enable/": (
        "console",
        [refused("POST", "/console/webhooks/{b_endpoint}/enable/")],
    ),
    "console/webhooks/<int:endpoint_id>/delete/": (
        "console",
        [refused("POST", "/console/webhooks/{b_endpoint}/delete/")],
    ),
    "console/webhooks/deliveries/<int:delivery_id>/replay/": (
        "console",
        [refused("POST", "/console/webhooks/deliveries/{b_delivery}/replay/")],
    ),
    # --- the REST API v1, with an A key holding every scope ---
    "api/v1/conversations": (
        "api",
        [Probe("POST", "/api/v1/conversations", "hidden", {"site": "bravosite"}, control=True, json=True)],
    ),
    "api/v1/conversations/<int:conversation_id>": (
        "api",
        [refused("GET", "/api/v1/conversations/{b_conversation}", control=True)],
    ),
    "api/v1/conversations/<int:conversation_id>/messages": (
        "api",
        [
            refused("GET", "/api/v1/conversations/{b_conversation}/messages", control=True),
            refused("POST", "/api/v1/conversations/{b_conversation}/messages", json=True, client_id="x1", text="hi"),
        ],
    ),
    "api/v1/conversations/<int:conversation_id>/handoff": (
        "api",
        [refused("POST", "/api/v1/conversations/{b_conversation}/handoff")],
    ),
    "api/v1/conversations/<int:conversation_id>/events": (
        "api",
        [refused("GET", "/api/v1/conversations/{b_conversation}/events")],
    ),
    "api/v1/faq": (
        "api",
        [
            hidden("/api/v1/faq"),
            hidden("/api/v1/faq?q=bravo"),
            Probe("POST", "/api/v1/faq", "hidden", FAQ_IN, control=True, json=True),
        ],
    ),
    "api/v1/faq/<int:faq_id>": (
        "api",
        [
            refused("GET", "/api/v1/faq/{b_faq}", control=True),
            refused("PUT", "/api/v1/faq/{b_faq}", json=True, **FAQ_IN),
            refused("PATCH", "/api/v1/faq/{b_faq}", json=True, answer="Changed."),
            refused("DELETE", "/api/v1/faq/{b_faq}"),
        ],
    ),
    "api/v1/faq/import": (
        "api",
        [
            Probe(
                "POST", "/api/v1/faq/import", "hidden", {"entries": [FAQ_IN], "replace": True}, control=True, json=True
            )
        ],
    ),
    "api/v1/transcripts": (
        "api",
        [hidden("/api/v1/transcripts"), refused("GET", "/api/v1/transcripts?site=bravosite")],
    ),
    "api/v1/usage": ("api", [hidden("/api/v1/usage?from={month}-01&to={today}", control=False)]),
    "api/v1/webhooks/endpoints": (
        "api",
        [
            hidden("/api/v1/webhooks/endpoints"),
            Probe("POST", "/api/v1/webhooks/endpoints", "hidden", HOOK_IN, control=True, json=True),
        ],
    ),
    "api/v1/webhooks/endpoints/<int:endpoint_id>": (
        "api",
        [
            refused("GET", "/api/v1/webhooks/endpoints/{b_endpoint}", control=True),
            refused(
                "PATCH",
                "/api/v1/webhooks/endpoints/{b_endpoint}",
                control=True,
                json=True,
                url="https://x.example.com/",
            ),
            refused("DELETE", "/api/v1/webhooks/endpoints/{b_endpoint}", control=True),
        ],
    ),
    "api/v1/webhooks/endpoints/<int:endpoint_id>/rotate-secret": (
        "api",
        [
            refused(
                "POST",
                "/api/v1/webhooks/endpoints/{b_endpoint}/rotate-secret",
                control=True,
                json=True,
                overlap_hours=0,
            )
        ],
    ),
    "api/v1/webhooks/endpoints/<int:endpoint_id>/enable": (
        "api",
        [refused("POST", "/api/v1/webhooks/endpoints/{b_endpoint}/enable", control=True)],
    ),
    "api/v1/webhooks/endpoints/<int:endpoint_id>/deliveries": (
        "api",
        [refused("GET", "/api/v1/webhooks/endpoints/{b_endpoint}/deliveries", control=True)],
    ),
    "api/v1/webhooks/deliveries/<int:delivery_id>/replay": (
        "api",
        [refused("POST", "/api/v1/webhooks/deliveries/{b_delivery}/replay")],
    ),
    # --- the export API, with an A admin's token ---
    "api/v1/exports/messages.jsonl": (
        "token",
        [hidden("/api/v1/exports/messages.jsonl"), refused("GET", "/api/v1/exports/messages.jsonl?site=bravosite")],
    ),
    "api/v1/exports/messages.csv": (
        "token",
        [hidden("/api/v1/exports/messages.csv"), refused("GET", "/api/v1/exports/messages.csv?site=bravosite")],
    ),
    "api/v1/exports/conversations.csv": (
        "token",
        [
            hidden("/api/v1/exports/conversations.csv"),
            refused("GET", "/api/v1/exports/conversations.csv?site=bravosite"),
        ],
    ),
}


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def test_every_endpoint_is_in_the_matrix() -> None:
    routes = {r for r in _routes(get_resolver().url_patterns) if not r.startswith("admin/")}
    assert routes - set(MATRIX) - set(PUBLIC) == set(), "endpoints missing from the tenancy matrix"
    assert set(MATRIX) - routes == set(), "matrix rows for endpoints that no longer exist"
    assert set(PUBLIC) - routes == set()


@dataclass
class World:
    ids: dict[str, Any]
    clients: dict[str, list[tuple[str, Client]]]  # credentials kind -> A's clients
    b_clients: dict[str, Client]  # credentials kind -> B's client (the controls)

    def fingerprint(self) -> tuple[Any, ...]:
        """Everything of B a probe might change."""
        site = self.ids["b_site"]
        return (
            list(
                FaqEntry.objects.filter(site_id=site)
                .order_by("pk")
                .values_list("pk", "question", "answer", "is_active")
            ),
            list(
                WebhookEndpoint.objects.filter(site_id=site).values_list("pk", "url", "secret", "is_active", "events")
            ),
            WebhookDelivery.objects.filter(endpoint__site_id=site).count(),
            list(ApiKey.objects.filter(site_id=site).values_list("pk", "revoked_at")),
            list(ApiToken.objects.filter(pk=self.ids["b_token"]).values_list("pk", "revoked_at")),
            list(Conversation.objects.filter(site_id=site).values_list("pk", "status", "assignee_id", "last_seq")),
            Visitor.objects.filter(site_id=site).count(),
            Message.objects.filter(conversation__site_id=site).count(),
            TrainingRun.objects.count(),
            list(Operator.objects.filter(organisation__slug="bravo-org").values_list("pk", "role", "organisation_id")),
            list(Site.objects.get(pk=site).operators.values_list("pk", flat=True)),
            list(Message.objects.filter(conversation__site_id=site).values_list("pk", "sentiment_label")),
        )


def _organisation(slug: str, name: str, site_key: str, site_name: str, prefix: str) -> dict[str, Any]:
    organisation = Organisation.objects.create(slug=slug, name=name)
    site = Site.objects.create(key=site_key, name=site_name, organisation=organisation)
    admin = make_operator(f"{prefix}-admin", sites=[], role=Role.ADMIN)
    operator = make_operator(f"{prefix}-operator", sites=[site])
    Operator.objects.filter(pk__in=[admin.pk, operator.pk]).update(organisation=organisation)
    faq = FaqEntry.objects.create(
        site=site, question=f"{prefix}-secret-faq question?", answer=f"{prefix}-secret-faq answer."
    )
    visitor = Visitor.objects.create(site=site)
    conversation = conversation_handoff_request(visitor=visitor)
    received = message_receive(visitor=visitor, client_id="c1", text=f"{prefix}-secret-message where is it?")
    ContactRequest.objects.create(conversation=conversation, email=f"{prefix}-contact@example.com", text="call me")
    Note.objects.create(conversation=conversation, author_name="x", text=f"{prefix}-note")
    CannedResponse.objects.create(organisation=organisation, shortcut="hi", title=f"{prefix}-canned", text="Hello")
    _, token_key = api_token_create(user=admin.user, name=f"{prefix}-token")
    api_key, key = api_key_create(
        site=site, scopes=["chat", "knowledge", "transcripts", "usage", "webhooks"], name=f"{prefix}-key"
    )
    endpoint = WebhookEndpoint.objects.create(
        site=site, url=f"https://{prefix}-hooks.example.com/in", events=["rating.created"], secret="whsec_x"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="evt_1", event_type="rating.created", body="{}", status="failed"
    )
    usage_api_call_count(site_id=site.pk)
    return {
        "site": site,
        "admin": admin,
        "operator": operator,
        "faq": faq,
        "visitor": visitor,
        "conversation": conversation,
        "seq": received.message.seq,
        "token": ApiToken.objects.get(name=f"{prefix}-token"),
        "token_key": token_key,
        "key": api_key,
        "key_secret": key,
        "endpoint": endpoint,
        "delivery": delivery,
    }


def _console(operator: Operator) -> Client:
    client = Client()
    client.force_login(operator.user)
    return client


@pytest.fixture
def world(settings: Any) -> World:
    from django.utils import timezone

    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast sign-ins
    settings.CHATBOT_DISPATCH = "inline"
    settings.CHATBOT_EXPORT_RATE_PER_MINUTE = 0
    a = _organisation("alpha-org", "Alpha Org", "alphasite", "AlphaShopName", "alpha")
    b = _organisation("bravo-org", "Bravo Org", "bravosite", "BravoShopName", "bravo")
    run = TrainingRun.objects.create(site=b["site"], kinds=["intents"], trigger="manual", is_open=False)
    today = timezone.localdate()
    ids = {
        "b_site": b["site"].pk,
        "b_faq": b["faq"].pk,
        "b_visitor": str(b["visitor"].public_id),
        "b_conversation": b["conversation"].pk,
        "b_seq": b["seq"],
        "b_token": b["token"].pk,
        "b_admin_user": b["admin"].user_id,
        "b_operator": b["operator"].pk,
        "b_key": b["key"].pk,
        "b_endpoint": b["endpoint"].pk,
        "b_delivery": b["delivery"].pk,
        "b_run": run.pk,
        "month": today.strftime("%Y-%m"),
        "today": today.isoformat(),
    }
    return World(
        ids=ids,
        clients={
            "console": [("A's admin", _console(a["admin"])), ("A's operator", _console(a["operator"]))],
            "api": [("A's API key", Client(HTTP_AUTHORIZATION=f"Bearer {a['key_secret']}"))],
            "token": [("A's export token", Client(HTTP_AUTHORIZATION=f"Bearer {a['token_key']}"))],
        },
        b_clients={
            "console": _console(b["admin"]),
            "api": Client(HTTP_AUTHORIZATION=f"Bearer {b['key_secret']}"),
            "token": Client(HTTP_AUTHORIZATION=f"Bearer {b['token_key']}"),
        },
    )


def _call(client: Client, probe: Probe, ids: dict[str, Any]) -> tuple[int, str]:
    path = probe.path.format(**ids)
    data = {
        k: v.format(**ids) if isinstance(v, str) else SimpleUploadedFile("faq.csv", v) if isinstance(v, bytes) else v
        for k, v in probe.data.items()
    }
    method = getattr(client, probe.method.lower())
    if probe.json:
        response = method(path, data=data, content_type="application/json")
    elif probe.method == "GET":
        response = method(path)
    else:
        response = method(path, data=data)
    streamed = getattr(response, "streaming", False)
    body = b"".join(response.streaming_content) if streamed else response.content  # type: ignore[attr-defined]
    # A page that echoes its own address (the console's language form: `next`) shows no data of B.
    text = body.decode(errors="replace").replace(html.escape(path), "").replace(path, "")
    return response.status_code, text


PROBES = [
    pytest.param(route, kind, probe, id=f"{probe.method} {probe.path}")
    for route, (kind, probes) in MATRIX.items()
    for probe in probes
]


@pytest.mark.parametrize(("route", "kind", "probe"), PROBES)
def test_organisation_a_never_sees_or_changes_anything_of_b(world: World, route: str, kind: str, probe: Probe) -> None:
    before = world.fingerprint()
    for who, client in world.clients[kind]:
        status, body = _call(client, probe, world.ids)
        assert status < 500, f"{who}: {status}"
        if probe.expect == "hidden":
            leaked = [m for m in B_MARKERS if m in body]
            assert not leaked, f"{who} sees {leaked} of B"
        else:
            assert status in (400, 403, 404), f"{who} was not refused: {status}"
        assert world.fingerprint() == before, f"{who} changed B's data"

    if probe.control:
        status, body = _call(world.b_clients[kind], probe, world.ids)
        if probe.expect == "hidden" and probe.method == "GET":
            assert any(m in body for m in B_MARKERS), "B's own credentials see nothing of B: the probe proves nothing"
        else:
            assert 200 <= status < 400, f"B's own credentials are refused too ({status}): the probe proves nothing"
