"""What `make run` and `make web` start: a secret key of this install's own, and a server that
trusts X-Forwarded-For only from the proxies FORWARDED_ALLOW_IPS names (by default none)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ROOT, Process, base_env, free_port


def make(*args: str, dry_run: bool = False) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *(["-n"] if dry_run else []), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def uvicorn_line(target: str, **variables: str) -> str:
    """The uvicorn command `make TARGET` runs, as the shell gets it (continuations joined)."""
    script = make(target, *(f"{k}={v}" for k, v in variables.items()), dry_run=True).replace("\\\n", " ")
    lines = [line for line in script.splitlines() if "bin/uvicorn chatbot.asgi:application" in line]
    assert len(lines) == 1, script
    return lines[0]


def test_make_writes_a_random_key_once_per_install_readable_by_its_owner_only(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "secret-key", tmp_path / "b" / "secret-key"
    make(f"SECRET_KEY_FILE={first}", str(first))
    key = first.read_text().strip()
    assert len(key) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", key)
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    make(f"SECRET_KEY_FILE={first}", str(first))
    assert first.read_text().strip() == key  # made once, then kept: sessions and tokens stay valid
    make(f"SECRET_KEY_FILE={second}", str(second))
    assert second.read_text().strip() != key  # every install its own


def test_make_run_makes_the_key_and_serves_with_it(tmp_path: Path) -> None:
    key_file = tmp_path / "secret-key"
    script = make("run", f"SECRET_KEY_FILE={key_file}", dry_run=True)
    assert f"> {key_file}.tmp" in script  # the key is made before anything starts
    # (and exported to every command of the recipe as DJANGO_SECRET_KEY_FILE, which settings read)
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export DJANGO_SECRET_KEY_FILE ?= $(SECRET_KEY_FILE)" in makefile


@pytest.mark.parametrize("target", ["run", "web"])
def test_make_run_and_web_trust_forwarded_headers_only_from_forwarded_allow_ips(target: str) -> None:
    line = uvicorn_line(target)
    assert '--forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-}"' in line
    # The shell turns that into an empty list (unset) or the operator's proxies.
    for value, expected in ((None, "--forwarded-allow-ips  "), ("10.0.0.5", "--forwarded-allow-ips 10.0.0.5 ")):
        env = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
        if value is not None:
            env["FORWARDED_ALLOW_IPS"] = value
        echoed = subprocess.run(
            ["bash", "-c", f"echo {line.split('bin/uvicorn', 1)[1]}"], env=env, capture_output=True, text=True
        ).stdout
        assert expected in echoed, echoed


def client_address_logged(line: str, env: dict[str, str], port: int) -> str:
    """Starts `make web`'s uvicorn command, sends a request with a forged X-Forwarded-For from
    127.0.0.1 and returns the client address its access log line shows."""
    process = Process("uvicorn", ["bash", "-c", line], env).start()
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-For": "203.0.113.50"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:
                    assert response.status == 200
                break
            except OSError:
                if not process.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not answer:\n{process.output()}") from None
                time.sleep(0.3)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = re.search(r"(\S+):\d+ - \"GET /healthz", process.output())
            if found:
                return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no access line:\n{process.output()}")
    finally:
        process.stop()


@pytest.mark.integration
def test_a_forged_x_forwarded_for_from_localhost_is_ignored_by_make_web_unless_a_proxy_is_named(
    tmp_path: Path,
) -> None:
    """The per-IP abuse limits count the address uvicorn reports: by default a client cannot pick
    its own with X-Forwarded-For, even from 127.0.0.1 (uvicorn's own default trusts it)."""
    port = free_port()
    line = uvicorn_line("web", PORT=str(port))
    env = base_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CHATBOT_DISPATCH="inline",
        HOST="127.0.0.1",
        WEB_WORKERS="1",
    )
    env.pop("FORWARDED_ALLOW_IPS", None)
    assert client_address_logged(line, env, port) == "127.0.0.1"
    # The same command with the proxy named: the header is believed (so the test can see it).
    port = free_port()
    line = uvicorn_line("web", PORT=str(port))
    assert client_address_logged(line, {**env, "FORWARDED_ALLOW_IPS": "127.0.0.1"}, port) == "203.0.113.50"
