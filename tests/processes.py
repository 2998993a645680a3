"""Real processes for integration and browser tests: an ASGI server and a Celery worker.

Each is started with its own environment, waited for until it is ready, and stopped (and its
output shown on failure) when the fixture ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The abuse limits (per address, visitor and site) off: for load and fault tests whose many
# sessions all come from 127.0.0.1.
RATE_LIMITS_OFF = {
    f"CHATBOT_RATE_{event}_PER_{scope}": "0"
    for event in ("CONNECTIONS", "MESSAGES", "CONVERSATIONS")
    for scope in ("IP", "VISITOR", "SITE")
}


def postgres_test_url() -> str:
    """The URL of pytest-django's test database (PostgreSQL), for the processes a test starts."""
    from django.db import connection

    database = connection.settings_dict
    user, host, port = database["USER"] or "postgres", database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{database['NAME']}"


def base_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_", "CHATBOT_", "CELERY_"))}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chatbot.settings",
            "DJANGO_SECRET_KEY": "test-only-secret-key-0123456789abcdefghij",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DATABASE_POOL": "1",
            # Chinese as character n-grams, as in the tests' own process (tests/conftest.py).
            "CHATBOT_EMBEDDING_MODEL_ZH": "",
        }
    )
    env.update(overrides)
    return env


@dataclass
class Process:
    name: str
    args: list[str]
    env: Mapping[str, str]
    popen: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))

    def start(self) -> Process:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args, cwd=ROOT, env=dict(self.env), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def wait_for(self, ready: str, timeout: float = 90) -> None:
        """Wait until `ready` appears in the output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready in self.log.read_text(errors="replace"):
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.output()}")


def load_settings(*, show: str = "DEBUG", unset: Sequence[str] = (), **env: str) -> subprocess.CompletedProcess[str]:
    """Load the settings in a fresh interpreter with `env` over the test environment, without the
    variables `unset`, and print the setting `show`: how a process started with that environment
    would see it (or fail)."""
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{show})"
    environment = {k: v for k, v in base_env(**env).items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def manage(*args: str, env: Mapping[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def uvicorn_command(app: str, port: int, *extra: str) -> list[str]:
    """uvicorn serving `app` on 127.0.0.1:`port`, with lifespan events (the web process's start-up
    starts the reply sweeper; an application that cannot handle them fails to start)."""
    return [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on", *extra]


def asgi_server(env: Mapping[str, str], port: int) -> Process:
    process = Process("uvicorn", uvicorn_command("chatbot.asgi:application", port), env).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            if not process.alive():
                raise RuntimeError(f"uvicorn exited early:\n{process.output()}") from None
            time.sleep(0.2)
    process.stop()
    raise TimeoutError(f"uvicorn did not answer /healthz:\n{process.output()}")


# What each pool process of a worker logs once its models are loaded (chatbot.replies.loading).
WORKER_MODELS_LOADED = "loaded embedding model"


def celery_worker(env: Mapping[str, str], *, queues: str = "inference", concurrency: int = 1) -> Process:
    process = Process(
        "celery",
        [
            str(BIN / "celery"),
            "-A",
            "chatbot",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "-l",
            "info",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
    ).start()
    process.wait_for("ready.", timeout=120)
    # "ready." comes as soon as the worker consumes, before its pool processes have loaded their
    # models (worker_process_init): a task it takes meanwhile waits in the worker for them, tens of
    # seconds on a busy machine, and with a short visibility timeout is handed out again and again.
    # A worker started to take over (tests/faults) must be able to answer when the test goes on.
    deadline = time.monotonic() + 240
    while process.log.read_text(errors="replace").count(WORKER_MODELS_LOADED) < concurrency:
        if not process.alive():
            raise RuntimeError(f"celery exited early:\n{process.output()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"celery's pool did not load its models:\n{process.output()}")
        time.sleep(0.2)
    return process
