"""The dashboard page and its JSON endpoints: filters, their errors, and who sees which site."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatbot.console.models import Operator, Role
from tests.analytics import seed

pytestmark = pytest.mark.django_db

RANGE = {"start": seed.START, "end": seed.END, "tz": "UTC"}


@pytest.fixture
def sites() -> dict[str, int]:
    return seed.seed()


def signed_in(client: Client, django_user_model: Any, name: str, role: str, site_ids: list[int]) -> Client:
    user = django_user_model.objects.create_user(username=name, password="unused-password-123")
    operator = Operator.objects.create(user=user, role=role)
    operator.sites.set(site_ids)
    client.force_login(user)
    return client


@pytest.fixture
def admin(client: Client, django_user_model: Any, sites: dict[str, int]) -> Client:
    return signed_in(client, django_user_model, "boss", Role.ADMIN, [])


@pytest.fixture
def alpha_operator(client: Client, django_user_model: Any, sites: dict[str, int]) -> Client:
    return signed_in(client, django_user_model, "ada", Role.OPERATOR, [sites["alpha"]])


def get_data(client: Client, **params: Any) -> Any:
    return client.get(reverse("analytics:data"), {**RANGE, **params})


def test_the_json_view_returns_the_figures_of_the_chosen_site(admin: Client, sites: dict[str, int]) -> None:
    response = get_data(admin, site=sites["alpha"])
    assert response.status_code == 200
    body = response.json()
    assert [d["conversations"] for d in body["per_day"]] == [3, 0, 3, 0, 0]
    assert body["automation"]["numerator"] == 1 and body["automation"]["denominator"] == 3
    assert body["handoff"]["value"] == 0.5
    assert body["first_token_ms"]["value"] == 275.0
    assert body["site_ids"] == [sites["alpha"]]
    assert response["Cache-Control"].startswith("max-age=0")


def test_all_sites_of_an_admin_are_every_site(admin: Client, sites: dict[str, int]) -> None:
    body = get_data(admin).json()
    assert body["site_ids"] == sorted(sites.values())
    assert body["conversations"] == 7


def test_an_operator_never_sees_another_sites_numbers(alpha_operator: Client, sites: dict[str, int]) -> None:
    mine = get_data(alpha_operator).json()
    assert mine["site_ids"] == [sites["alpha"]]
    assert mine["conversations"] == 6
    assert "secret-intent" not in [i["label"] for i in mine["top_intents"]]
    other = get_data(alpha_operator, site=sites["beta"])
    assert other.status_code == 400
    assert other.json()["error"] == f"site: You have no access to site {sites['beta']}."
    # A site that does not exist gets the same answer as one that is not yours.
    missing = get_data(alpha_operator, site=sites["beta"] + 1000)
    assert missing.json()["error"] == f"site: You have no access to site {sites['beta'] + 1000}."


def test_an_operator_without_sites_sees_zeros(client: Client, django_user_model: Any, sites: dict[str, int]) -> None:
    body = get_data(signed_in(client, django_user_model, "new", Role.OPERATOR, [])).json()
    assert body["site_ids"] == [] and body["conversations"] == 0


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"start": "03/03/2025"}, "start: Enter a valid date."),
        ({"end": "2025-02-30"}, "end: Enter a valid date."),
        ({"start": "2025-03-08", "end": "2025-03-07"}, "The start date is after the end date."),
        ({"start": "2024-03-06", "end": "2025-03-07"}, "Choose a range of at most 366 days."),
        ({"tz": "Mars/Olympus_Mons"}, "tz: Unknown time zone 'Mars/Olympus_Mons'."),
        ({"site": "alpha"}, "site: Enter a whole number."),
    ],
)
def test_bad_filters_get_a_400_that_says_what_is_wrong(admin: Client, params: dict[str, str], error: str) -> None:
    response = get_data(admin, **params)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_a_range_of_exactly_366_days_is_allowed(admin: Client) -> None:
    response = get_data(admin, start="2024-03-07", end="2025-03-07")
    assert response.status_code == 200
    assert len(response.json()["per_day"]) == 366


def test_without_dates_the_range_is_the_last_30_days_up_to_today(admin: Client) -> None:
    from django.utils import timezone

    body = admin.get(reverse("analytics:data")).json()
    assert body["end"] == timezone.localdate().isoformat()
    assert len(body["per_day"]) == 30


def test_the_endpoints_need_a_signed_in_operator(client: Client, django_user_model: Any, sites: dict[str, int]) -> None:
    for name in ("analytics:dashboard", "analytics:data", "analytics:unanswered"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("console:login"))
    client.force_login(django_user_model.objects.create_user(username="customer", password="unused-password-123"))
    assert client.get(reverse("analytics:data")).status_code == 403


@dataclass
class FakeCluster:
    label: str
    size: int
    questions: list[str]


@pytest.fixture
def fake_unanswered(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for chatbot.console.unanswered (clustering with the embedding model)."""
    calls: list[dict[str, Any]] = []

    def unanswered_clusters(**kwargs: Any) -> list[FakeCluster]:
        calls.append(kwargs)
        questions = ["where is my parcel?", "where is my parcel?"] + [f"parcel {i} late?" for i in range(6)]
        return [
            FakeCluster("where is my parcel?", 8, questions),
            FakeCluster("<b>gift</b> wrap?", 1, ["<b>gift</b> wrap?"]),
        ]

    module = types.ModuleType("chatbot.console.unanswered")
    module.unanswered_clusters = unanswered_clusters  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chatbot.console.unanswered", module)
    return calls


def test_unanswered_clusters_come_from_the_operators_sites_with_a_few_examples(
    alpha_operator: Client, sites: dict[str, int], fake_unanswered: list[dict[str, Any]]
) -> None:
    response = alpha_operator.get(reverse("analytics:unanswered"), RANGE)
    assert response.status_code == 200
    clusters = response.json()["clusters"]
    assert [(c["label"], c["size"]) for c in clusters] == [("where is my parcel?", 8), ("<b>gift</b> wrap?", 1)]
    # Five examples, each once.
    assert clusters[0]["questions"] == ["where is my parcel?"] + [f"parcel {i} late?" for i in range(4)]
    # The days are those of the filter's time zone: the bounds go as aware datetimes, end excluded.
    berlin = alpha_operator.get(reverse("analytics:unanswered"), {**RANGE, "tz": "Europe/Berlin"})
    assert berlin.status_code == 200
    assert fake_unanswered == [
        {
            "site_ids": [sites["alpha"]],
            "start": datetime(2025, 3, 3, tzinfo=UTC),
            "end": datetime(2025, 3, 8, tzinfo=UTC),
            "limit": 10,
        },
        {
            "site_ids": [sites["alpha"]],
            "start": datetime(2025, 3, 2, 23, tzinfo=UTC),
            "end": datetime(2025, 3, 7, 23, tzinfo=UTC),
            "limit": 10,
        },
    ]


def test_unanswered_clusters_refuse_another_sites_questions(
    alpha_operator: Client, sites: dict[str, int], fake_unanswered: list[dict[str, Any]]
) -> None:
    response = alpha_operator.get(reverse("analytics:unanswered"), {**RANGE, "site": sites["beta"]})
    assert response.status_code == 400
    assert fake_unanswered == []


def test_the_page_offers_only_the_operators_sites(alpha_operator: Client, sites: dict[str, int]) -> None:
    response = alpha_operator.get(
        reverse("analytics:dashboard"), {"site": sites["alpha"], "start": seed.START, "end": seed.END}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "All my sites" in html
    assert f'<option value="{sites["alpha"]}" selected>Alpha shop (alpha)</option>' in html
    assert "Beta shop" not in html
    assert f'value="{seed.START}"' in html and f'value="{seed.END}"' in html
    assert 'src="/static/console/vendor/chart.umd.min.js"' in html
    assert "<script>" not in html and "style=" not in html  # the console's CSP allows neither


def test_the_page_with_a_bad_filter_says_so_and_falls_back_to_the_default_range(
    alpha_operator: Client, sites: dict[str, int]
) -> None:
    response = alpha_operator.get(reverse("analytics:dashboard"), {"site": sites["beta"]})
    assert response.status_code == 200
    assert (
        f"You have no access to site {sites['beta']}. Showing the default filters instead." in response.content.decode()
    )
    assert response.context["site"] is None
