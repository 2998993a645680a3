"""Production settings fail loudly on a missing secret or a malformed value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import ROOT, base_env


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    result = load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "at least 32 characters" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("DJANGO_DEBUG", "maybe"), ("CHATBOT_HISTORY_TURNS", "ten"), ("CHATBOT_DISPATCH", "carrier-pigeon")],
)
def test_a_malformed_setting_is_named_in_the_error(name: str, value: str) -> None:
    result = load_settings(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_development_mode_runs_without_a_secret() -> None:
    result = load_settings(DJANGO_DEBUG="1", DJANGO_SECRET_KEY="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_development_mode_falls_back_to_a_development_key() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(len(settings.SECRET_KEY))",
        ],
        cwd=ROOT,
        env=base_env(DJANGO_DEBUG="1", DJANGO_SECRET_KEY=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert int(result.stdout) > 20
