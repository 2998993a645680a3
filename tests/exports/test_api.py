"""The export API: bearer tokens, per-site scoping, bad parameters, and the per-token rate limit."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from chatbot.exports.models import ApiToken
from chatbot.exports.services import TOKEN_PREFIX, api_token_revoke
from tests.exports.conftest import Seed, body

MESSAGES_JSONL = "/api/v1/exports/messages.jsonl"
MESSAGES_CSV = "/api/v1/exports/messages.csv"
CONVERSATIONS_CSV = "/api/v1/exports/conversations.csv"


def get(client: Client, path: str, token: str | None, **params: str) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get(path, params, **headers)


def error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)["error"]  # type: ignore[no-any-return]


def test_a_valid_token_exports_and_its_use_is_recorded(
    seed: Seed, client: Client, token_for: Callable[[Any], str]
) -> None:
    key = token_for(seed.admin)
    response = get(client, MESSAGES_JSONL, key)
    assert response.status_code == 200
    assert response.streaming
    assert len(body(response).splitlines()) == 10
    token = ApiToken.objects.get()
    assert token.last_used_at is not None
    for path in (MESSAGES_CSV, CONVERSATIONS_CSV):
        response = get(client, path, key)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_only_a_hash_of_the_token_is_stored(seed: Seed, token_for: Callable[[Any], str]) -> None:
    key = token_for(seed.admin)
    token = ApiToken.objects.get()
    assert key.startswith(TOKEN_PREFIX) and len(key) > 40
    assert token.prefix == key[:8]
    assert key not in {token.key_hash, token.name, token.prefix}
    assert len(token.key_hash) == 64


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_a_request_without_a_bearer_token_is_refused(seed: Seed, client: Client, authorization: str | None) -> None:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = client.get(MESSAGES_JSONL, **headers)
    assert response.status_code == 401
    assert error(response)["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused(seed: Seed, client: Client, token_for: Callable[[Any], str]) -> None:
    key = token_for(seed.admin)
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), "cbd_nonsense", key.removeprefix(TOKEN_PREFIX)):
        response = get(client, MESSAGES_JSONL, wrong)
        assert response.status_code == 401
        assert error(response)["code"] == "invalid_token"
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_revoked_token_is_refused(seed: Seed, client: Client, token_for: Callable[[Any], str]) -> None:
    key = token_for(seed.admin)
    assert get(client, MESSAGES_JSONL, key).status_code == 200
    api_token_revoke(token=ApiToken.objects.get())
    response = get(client, MESSAGES_JSONL, key)
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_token"


def test_a_token_of_a_disabled_account_is_refused(seed: Seed, client: Client, token_for: Callable[[Any], str]) -> None:
    key = token_for(seed.olivia)
    seed.olivia.is_active = False
    seed.olivia.save()
    assert get(client, MESSAGES_JSONL, key).status_code == 401


def test_a_token_whose_user_left_the_console_gets_nothing(
    seed: Seed, client: Client, token_for: Callable[[Any], str]
) -> None:
    key = token_for(seed.olivia)
    seed.olivia.operator.delete()
    response = get(client, MESSAGES_JSONL, key)
    assert response.status_code == 403
    assert error(response)["code"] == "forbidden"


def test_an_operators_token_never_exports_another_site(
    seed: Seed, client: Client, token_for: Callable[[Any], str]
) -> None:
    key = token_for(seed.olivia)  # olivia works on `shop` only
    records = [json.loads(line) for line in body(get(client, MESSAGES_JSONL, key)).splitlines()]
    assert {r["site"] for r in records} == {"shop"}
    assert {r["conversation_id"] for r in records} == {seed.returns.pk, seed.order.pk}
    conversations = list(csv.reader(io.StringIO(body(get(client, CONVERSATIONS_CSV, key)))))
    assert sorted(int(row[0]) for row in conversations[1:]) == sorted([seed.returns.pk, seed.order.pk])
    assert "@everyone" not in body(get(client, MESSAGES_CSV, key))

    for path in (MESSAGES_JSONL, MESSAGES_CSV, CONVERSATIONS_CSV):
        response = get(client, path, key, site="other")
        assert response.status_code == 403
        assert error(response) == {
            "code": "forbidden",
            "message": "You have no access to site 'other'.",
            "parameter": "site",
        }


def test_an_admins_token_exports_every_site(seed: Seed, client: Client, token_for: Callable[[Any], str]) -> None:
    key = token_for(seed.admin)
    records = [json.loads(line) for line in body(get(client, MESSAGES_JSONL, key)).splitlines()]
    assert {r["site"] for r in records} == {"shop", "other"}
    only_other = [json.loads(line) for line in body(get(client, MESSAGES_JSONL, key, site="other")).splitlines()]
    assert {r["conversation_id"] for r in only_other} == {seed.refund.pk}


def test_the_api_takes_the_same_filters_as_the_console(
    seed: Seed, client: Client, token_for: Callable[[Any], str]
) -> None:
    key = token_for(seed.admin)
    response = get(client, MESSAGES_JSONL, key, site="shop", **{"from": "2026-03-02"}, redact="1")
    records = [json.loads(line) for line in body(response).splitlines()]
    assert [r["conversation_id"] for r in records] == [seed.order.pk, seed.order.pk]
    assert records[0]["text"] == "Where is order LL-2024-000123? Call [phone]"


@pytest.mark.parametrize(
    ("params", "parameter", "message"),
    [
        ({"from": "2026-13-01"}, "from", "from='2026-13-01' is not a date; use YYYY-MM-DD."),
        ({"to": "yesterday"}, "to", "to='yesterday' is not a date; use YYYY-MM-DD."),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from", "from (2026-03-05) is after to (2026-03-01)."),
        ({"status": "open"}, "status", "Unknown status 'open'; use bot, waiting_human, human, closed."),
        ({"sentiment": "angry"}, "sentiment", "Unknown sentiment 'angry'; use negative, neutral, positive."),
        ({"redact": "maybe"}, "redact", "redact='maybe' is not a boolean; use 1 or 0."),
        ({"intent": "a b"}, "intent", "An intent is a name of up to 100 letters, digits and _ . : / -."),
        (
            {"form": "2026-03-01"},
            "form",
            "Unknown parameter 'form'; use from, intent, redact, sentiment, site, status, to.",
        ),
    ],
)
def test_bad_parameters_get_a_clear_json_error(
    seed: Seed, client: Client, token_for: Callable[[Any], str], params: dict[str, str], parameter: str, message: str
) -> None:
    response = get(client, MESSAGES_CSV, token_for(seed.admin), **params)
    assert response.status_code == 400
    assert error(response) == {"code": "bad_parameter", "message": message, "parameter": parameter}


def test_repeating_a_single_valued_parameter_is_an_error(
    seed: Seed, client: Client, token_for: Callable[[Any], str]
) -> None:
    response = client.get(
        MESSAGES_CSV + "?status=bot&status=closed", HTTP_AUTHORIZATION=f"Bearer {token_for(seed.admin)}"
    )
    assert response.status_code == 400
    assert error(response)["parameter"] == "status"


def test_several_sites_can_be_asked_for_at_once(seed: Seed, client: Client, token_for: Callable[[Any], str]) -> None:
    response = client.get(
        CONVERSATIONS_CSV + "?site=shop&site=other", HTTP_AUTHORIZATION=f"Bearer {token_for(seed.admin)}"
    )
    assert len(list(csv.reader(io.StringIO(body(response))))) == 4


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_only_get_is_allowed_and_other_methods_get_json_even_with_csrf_checks_on(
    seed: Seed, token_for: Callable[[Any], str], method: str
) -> None:
    """The API is authenticated by its token alone: Django's CSRF check (an HTML 403 page) never
    answers for it, whether the caller sends a token, nothing, or a console session cookie."""
    key = token_for(seed.admin)
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(seed.admin)
    for client, headers in (
        (Client(enforce_csrf_checks=True), {"HTTP_AUTHORIZATION": f"Bearer {key}"}),
        (Client(enforce_csrf_checks=True), {}),
        (signed_in, {}),
    ):
        for path in (MESSAGES_JSONL, MESSAGES_CSV, CONVERSATIONS_CSV):
            response = client.generic(method, path, "{}", content_type="application/json", **headers)
            assert response.status_code == 405, (method, path, headers)
            assert error(response) == {"code": "method_not_allowed", "message": "Use GET."}
            assert response["Allow"] == "GET"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/api/v1/exports/messages.xml", "/api/v1/", "/api/v1/tokens/", "/api/v2/exports/messages.csv", "/api"]
)
def test_unknown_api_paths_get_a_json_404(seed: Seed, token_for: Callable[[Any], str], method: str, path: str) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.generic(method, path, HTTP_AUTHORIZATION=f"Bearer {token_for(seed.admin)}")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_a_console_session_is_no_api_credential(seed: Seed, client: Client) -> None:
    client.force_login(seed.admin)
    assert client.get("/console/exports/").status_code == 200
    response = client.get(MESSAGES_JSONL)
    assert response.status_code == 401
    assert error(response)["code"] == "unauthorized"


def test_an_unknown_site_gets_the_same_error_as_a_site_of_someone_else(
    seed: Seed, client: Client, token_for: Callable[[Any], str]
) -> None:
    """Which site keys exist is not told to an operator who may not see them."""
    key = token_for(seed.olivia)  # olivia works on `shop` only; `other` exists
    exists = get(client, MESSAGES_CSV, key, site="other")
    missing = get(client, MESSAGES_CSV, key, site="nosuch")
    assert exists.status_code == missing.status_code == 403
    assert exists.content.replace(b"'other'", b"'nosuch'") == missing.content
    message = "You have no access to site 'nosuch'."
    assert error(missing) == {"code": "forbidden", "message": message, "parameter": "site"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The rate limiter's clock, set by the test (so a minute never turns over mid-test)."""
    now = SimpleNamespace(value=1_000_030.0)  # 10 s into a minute window
    monkeypatch.setattr("chatbot.ratelimit.time", SimpleNamespace(time=lambda: now.value))
    return now


def test_each_token_is_rate_limited_per_minute(
    seed: Seed, client: Client, token_for: Callable[[Any], str], settings: Any, clock: SimpleNamespace
) -> None:
    settings.CHATBOT_EXPORT_RATE_PER_MINUTE = 2
    first, second = token_for(seed.admin), token_for(seed.admin)
    assert get(client, CONVERSATIONS_CSV, first).status_code == 200
    assert get(client, CONVERSATIONS_CSV, first, status="nope").status_code == 400  # counts too
    limited = get(client, CONVERSATIONS_CSV, first)
    assert limited.status_code == 429
    assert limited["Retry-After"] == "50"
    assert error(limited)["code"] == "rate_limited"
    # Another token has its own budget.
    assert get(client, CONVERSATIONS_CSV, second).status_code == 200
    # The next minute, the first token may export again.
    clock.value += 50
    assert get(client, CONVERSATIONS_CSV, first).status_code == 200


def test_unauthenticated_requests_do_not_use_up_a_tokens_budget(
    seed: Seed, client: Client, token_for: Callable[[Any], str], settings: Any, clock: SimpleNamespace
) -> None:
    settings.CHATBOT_EXPORT_RATE_PER_MINUTE = 1
    key = token_for(seed.admin)
    for _ in range(3):
        assert get(client, CONVERSATIONS_CSV, "cbd_wrong").status_code == 401
    assert get(client, CONVERSATIONS_CSV, key).status_code == 200
    assert get(client, CONVERSATIONS_CSV, key).status_code == 429


def test_a_rate_limit_of_zero_turns_the_limit_off(
    seed: Seed, client: Client, token_for: Callable[[Any], str], settings: Any, clock: SimpleNamespace
) -> None:
    settings.CHATBOT_EXPORT_RATE_PER_MINUTE = 0
    key = token_for(seed.admin)
    assert all(get(client, CONVERSATIONS_CSV, key).status_code == 200 for _ in range(5))


def test_the_api_ignores_console_sessions(seed: Seed, client: Client) -> None:
    client.force_login(seed.admin)
    assert client.get(MESSAGES_CSV).status_code == 401
