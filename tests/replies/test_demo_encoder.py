"""The demo serves an encoder fine-tuned on its own FAQ, trained before its entries are embedded
and its gate is tuned."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from chatbot.web.management.commands import demo_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What demo_setup did, in order, with the embedding, training and tuning themselves stubbed."""
    done: list[tuple[str, str]] = []

    def embed(**_: Any) -> int:
        done.append(("embed", ""))
        return 0

    def train(*, site: Any, language: str, **_: Any) -> dict[str, Any]:
        done.append(("train", language))
        return {"trained": True, "folder": f"site-encoders/demo/{language}/x"}

    def reset(*, site: Any, language: str) -> int:
        done.append(("reset", language))
        return 0

    def tune(*, site: Any, language: str, **_: Any) -> dict[str, Any]:
        done.append(("tune", language))
        return {"tuned": {"answer_threshold": 0.4, "clarify_margin": 0.0, "answered_wrong": 0.0}}

    monkeypatch.setattr(demo_setup, "faq_embed_stale", embed)
    monkeypatch.setattr(demo_setup, "site_encoder_train", train)
    monkeypatch.setattr(demo_setup, "site_encoder_reset", reset)
    monkeypatch.setattr(demo_setup, "gate_policy_tune", tune)
    return done


def test_the_demo_trains_its_english_encoder_before_tuning_each_languages_gate(steps: list[tuple[str, str]]) -> None:
    call_command("demo_setup", "--no-admin", stdout=StringIO())
    assert steps == [("train", "en"), ("embed", ""), ("tune", "en"), ("tune", "zh-hans")]


def test_no_finetune_serves_the_deployments_encoder_and_still_tunes_the_gates(steps: list[tuple[str, str]]) -> None:
    call_command("demo_setup", "--no-admin", "--no-finetune", stdout=StringIO())
    assert steps == [("reset", "en"), ("embed", ""), ("tune", "en"), ("tune", "zh-hans")]


def test_with_a_chinese_encoder_configured_the_demo_trains_its_chinese_encoder_too(
    steps: list[tuple[str, str]], settings: Any
) -> None:
    settings.CHATBOT_EMBEDDING_MODEL_ZH = "e5-small"
    call_command("demo_setup", "--no-admin", stdout=StringIO())
    assert steps == [("train", "en"), ("train", "zh-hans"), ("embed", ""), ("tune", "en"), ("tune", "zh-hans")]
