"""CHATBOT_RESPONDER picks who answers: the FAQ gate (default) or the load-test stub."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from chatbot.replies import responders
from chatbot.replies.responders import responder_for
from chatbot.sites.models import Site
from intents.echo import EchoResponder
from intents.retrieval import RetrievalResponder
from tests.processes import load_settings

pytestmark = pytest.mark.django_db


def test_the_echo_setting_answers_with_the_stub_and_loads_no_model(
    settings: Any, shop_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model() -> None:
        raise AssertionError("the stub must not load the embedding model")

    monkeypatch.setattr(responders, "embedder_get", no_model)
    settings.CHATBOT_RESPONDER = "echo"
    assert isinstance(responder_for(site=shop_site), EchoResponder)


def test_the_faq_setting_answers_from_the_sites_faq(settings: Any, shop_site: Site) -> None:
    settings.CHATBOT_RESPONDER = "faq"
    settings.CHATBOT_GENERATOR = "off"
    assert isinstance(responder_for(site=shop_site), RetrievalResponder)


def responder_setting(**env: str) -> subprocess.CompletedProcess[str]:
    return load_settings(show="CHATBOT_RESPONDER", DJANGO_DEBUG="1", **env)


def test_the_faq_responder_is_the_default() -> None:
    result = responder_setting()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "faq"


def test_an_unknown_responder_refuses_to_start_and_names_the_setting() -> None:
    result = responder_setting(CHATBOT_RESPONDER="oracle")
    assert result.returncode != 0
    assert "CHATBOT_RESPONDER must be one of faq, echo" in result.stderr
