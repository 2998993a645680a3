"""`OpenAICompatibleGenerator` against a real OpenAI-compatible server: the scripted ASGI app in
tests/support/openai_server.py, run by uvicorn in its own process on a free port."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from intents.generation.openai_compatible import OpenAICompatibleGenerator
from intents.generation.types import ChatMessage, GenerationError, GenerationSettings, TextGenerator
from tests.processes import Process, base_env, free_port, uvicorn_command
from tests.support import openai_server

TIMEOUT_S = 0.5  # well under the server's SLOW_S, so stalls are caught fast
MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You answer questions about Lumen & Loom."},
    {"role": "user", "content": "Do you ship to Canada?"},
    {"role": "assistant", "content": "Yes, in 5 to 8 working days."},
    {"role": "user", "content": "How much does it cost?"},
]


@pytest.fixture(scope="module")
def openai_server_url() -> Iterator[str]:
    """The scripted server's API root, e.g. "http://127.0.0.1:PORT/v1"."""
    port = free_port()
    command = uvicorn_command("tests.support.openai_server:app", port, "--timeout-graceful-shutdown", "1")
    process = Process("openai-server", command, base_env()).start()
    try:
        _wait_until_healthy(process, f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.stop()


def _wait_until_healthy(process: Process, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if not process.alive():
                raise RuntimeError(f"the scripted server exited early:\n{process.output()}") from None
            time.sleep(0.1)
    raise TimeoutError(f"the scripted server did not answer {url}:\n{process.output()}")


@pytest.fixture
def generator(openai_server_url: str) -> Iterator[OpenAICompatibleGenerator]:
    generator = OpenAICompatibleGenerator(openai_server_url, "scripted-7b", timeout_s=TIMEOUT_S)
    yield generator
    generator.close()


def _generator(url: str, model: str, **kwargs: Any) -> OpenAICompatibleGenerator:
    return OpenAICompatibleGenerator(url, model, timeout_s=TIMEOUT_S, **kwargs)


def _last_request(url: str) -> dict[str, Any]:
    response = httpx.get(url.removesuffix("/v1") + "/debug/last-request", timeout=5)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _full_text(url: str, messages: list[ChatMessage], max_tokens: int) -> str:
    """The reply as the server gives it without streaming."""
    body = {"model": "scripted-7b", "messages": messages, "stream": False, "max_tokens": max_tokens}
    response = httpx.post(f"{url}/chat/completions", json=body, timeout=5)
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"])


def test_name_identifies_the_model_behind_the_server() -> None:
    generator: TextGenerator = OpenAICompatibleGenerator("http://gpu-1:8000/v1", "Qwen2.5-7B-Instruct")

    assert generator.name == "openai:Qwen2.5-7B-Instruct"


def test_reply_streams_as_deltas_in_order_that_join_into_the_servers_full_text(
    generator: OpenAICompatibleGenerator, openai_server_url: str
) -> None:
    deltas = list(generator.stream(MESSAGES, GenerationSettings()))

    expected = _full_text(openai_server_url, MESSAGES, max_tokens=160)
    assert expected.startswith("You asked: How much does it cost?")
    assert deltas == openai_server.reply_pieces(expected)
    assert len(deltas) > 5
    assert all(deltas)
    assert "".join(deltas) == expected


def test_the_server_receives_the_messages_model_and_decoding_settings(
    generator: OpenAICompatibleGenerator, openai_server_url: str
) -> None:
    settings = GenerationSettings(max_new_tokens=64, temperature=0.3, top_p=0.9, repetition_penalty=1.2)
    list(generator.stream(MESSAGES, settings))

    body = _last_request(openai_server_url)["body"]
    assert body == {
        "model": "scripted-7b",
        "messages": MESSAGES,
        "stream": True,
        "max_tokens": 64,
        "temperature": 0.3,
        "top_p": 0.9,
    }


def test_max_new_tokens_cuts_the_streamed_reply_short(generator: OpenAICompatibleGenerator) -> None:
    deltas = list(generator.stream(MESSAGES, GenerationSettings(max_new_tokens=3)))

    assert "".join(deltas) == "You asked: How"


def test_the_api_key_is_sent_as_a_bearer_token(openai_server_url: str) -> None:
    with_key = _generator(openai_server_url, "scripted-7b", api_key="sk-test-123")
    list(with_key.stream(MESSAGES, GenerationSettings()))
    assert _last_request(openai_server_url)["authorization"] == "Bearer sk-test-123"

    without_key = _generator(openai_server_url, "scripted-7b")
    list(without_key.stream(MESSAGES, GenerationSettings()))
    assert _last_request(openai_server_url)["authorization"] is None


def test_consecutive_replies_reuse_one_connection(generator: OpenAICompatibleGenerator, openai_server_url: str) -> None:
    list(generator.stream(MESSAGES, GenerationSettings()))
    first = _last_request(openai_server_url)["client"]
    list(generator.stream(MESSAGES, GenerationSettings()))
    second = _last_request(openai_server_url)["client"]

    assert first == second


def test_one_generator_serves_several_threads_at_once(generator: OpenAICompatibleGenerator) -> None:
    questions = [f"Question number {n}?" for n in range(8)]

    def ask(question: str) -> str:
        return "".join(generator.stream([{"role": "user", "content": question}], GenerationSettings()))

    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(ask, questions))

    assert replies == [openai_server.reply_text([{"role": "user", "content": q}], "scripted-7b") for q in questions]


def test_a_server_error_becomes_a_generation_error_with_the_servers_message(openai_server_url: str) -> None:
    with pytest.raises(GenerationError, match="HTTP 500") as failure:
        list(_generator(openai_server_url, "fail-500").stream(MESSAGES, GenerationSettings()))

    assert openai_server.FAILURE_MESSAGE in str(failure.value)


def test_a_server_that_never_answers_times_out_with_a_generation_error(openai_server_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(GenerationError, match=r"sent nothing for 0\.5s"):
        list(_generator(openai_server_url, "slow").stream(MESSAGES, GenerationSettings()))

    assert time.monotonic() - started < openai_server.SLOW_S


def test_a_server_that_stalls_mid_reply_times_out_with_a_generation_error(openai_server_url: str) -> None:
    deltas: list[str] = []
    started = time.monotonic()
    with pytest.raises(GenerationError, match=r"sent nothing for 0\.5s"):
        deltas.extend(_generator(openai_server_url, "stall").stream(MESSAGES, GenerationSettings()))

    assert deltas == ["You"]
    assert time.monotonic() - started < openai_server.SLOW_S


def test_a_refused_connection_becomes_a_generation_error() -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}/v1"

    with pytest.raises(GenerationError, match="cannot connect to"):
        list(_generator(nobody_listens, "scripted-7b").stream(MESSAGES, GenerationSettings()))


def test_a_malformed_event_becomes_a_generation_error(openai_server_url: str) -> None:
    with pytest.raises(GenerationError, match="malformed JSON"):
        list(_generator(openai_server_url, "broken").stream(MESSAGES, GenerationSettings()))


def test_a_stream_that_ends_before_its_finish_becomes_a_generation_error(openai_server_url: str) -> None:
    with pytest.raises(GenerationError, match="ended the stream before finish_reason"):
        list(_generator(openai_server_url, "truncated").stream(MESSAGES, GenerationSettings()))


def test_an_error_event_in_the_stream_becomes_a_generation_error_with_its_message(openai_server_url: str) -> None:
    with pytest.raises(GenerationError, match="failed mid-stream") as failure:
        list(_generator(openai_server_url, "error-in-stream").stream(MESSAGES, GenerationSettings()))

    assert openai_server.STREAM_ERROR_MESSAGE in str(failure.value)
