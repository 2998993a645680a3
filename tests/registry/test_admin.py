from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatbot.registry.models import ModelVersion
from chatbot.registry.selectors import model_version_active

pytestmark = pytest.mark.django_db

Register = Callable[..., ModelVersion]
CHANGELIST = reverse("admin:registry_modelversion_changelist")


@pytest.fixture(autouse=True)
def plain_http(settings: Any) -> None:
    """Production settings redirect plain HTTP to HTTPS; the test client speaks plain HTTP."""
    settings.SECURE_SSL_REDIRECT = False


def act(client: Client, action: str, *versions: ModelVersion) -> str:
    """Run an admin action on the versions; the messages it left, one per line."""
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [v.pk for v in versions]}, follow=True)
    assert response.status_code == 200
    return "\n".join(str(message) for message in response.context["messages"])


def test_the_list_shows_kind_state_and_key_metrics(admin_client: Client, register: Register) -> None:
    register("v1", metrics={"accuracy": 0.9132, "macro_f1": 0.88, "notes": "x"}, activate=True)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "v1" in page
    assert "accuracy 0.9132, macro_f1 0.88" in page


def test_the_admin_promotes_the_selected_version(admin_client: Client, register: Register) -> None:
    register("v1", activate=True)
    second = register("v2")

    page = act(admin_client, "promote_selected", second)

    assert "v2 is now the active intents model" in page
    assert model_version_active(kind="intents") == second
    assert second.activations.get().by == "admin:admin"


def test_the_admin_promotes_only_when_exactly_one_version_is_selected(admin_client: Client, register: Register) -> None:
    first, second = register("v1", activate=True), register("v2")
    page = act(admin_client, "promote_selected", first, second)
    assert "Select exactly one version to promote." in page
    assert model_version_active(kind="intents") == first


def test_the_admin_rolls_a_kind_back(admin_client: Client, register: Register) -> None:
    first = register("v1", activate=True)
    second = register("v2", activate=True)

    assert "Rolled back: v1" in act(admin_client, "rollback_kind", second)
    assert model_version_active(kind="intents") == first
    assert "no earlier one to roll back to" in act(admin_client, "rollback_kind", second)
