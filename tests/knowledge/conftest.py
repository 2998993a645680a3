from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chatbot.console.models import Operator, Role
from chatbot.sites.models import Site


@pytest.fixture(autouse=True)
def console_http(settings: Any) -> None:
    """Plain HTTP for the test client (production settings redirect to HTTPS), and FAQ changes
    re-embedded synchronously, so a test sees the embedding as soon as the request returns."""
    settings.SECURE_SSL_REDIRECT = False
    settings.CHATBOT_DISPATCH = "inline"


def make_operator(username: str, *, sites: list[Site], role: str = Role.OPERATOR) -> Operator:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    operator = Operator.objects.create(user=user, role=role, display_name=username.title())
    operator.sites.set(sites)
    return operator


def client_for(operator: Operator) -> Client:
    client = Client()
    client.force_login(operator.user)
    return client


@pytest.fixture
def shop_operator(shop_site: Site) -> Operator:
    return make_operator("olga", sites=[shop_site])


@pytest.fixture
def shop_client(shop_operator: Operator) -> Client:
    return client_for(shop_operator)


@pytest.fixture
def admin_client(db: None) -> Client:
    return client_for(make_operator("ada", sites=[], role=Role.ADMIN))
