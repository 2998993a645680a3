"""A `TextGenerator` that streams from an OpenAI-compatible chat server (vLLM, TGI, Ollama,
llama.cpp server), for deployments whose generation has outgrown the worker process.

Decoding settings map onto the OpenAI request as `max_tokens`, `temperature` and `top_p`.
`repetition_penalty` is deliberately not sent: OpenAI's `frequency_penalty` is a different knob
(additive, growing with each repeat, 0 = off, range -2..2) and not a translation of the
multiplicative Hugging Face penalty (1.0 = off), and the servers that do accept a
`repetition_penalty` field disagree on its name and whether it is allowed. Greedy decoding on a
short support answer rarely needs it; set it server-side where a model does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from intents.generation.types import ChatMessage, GenerationError, GenerationSettings

DONE = "[DONE]"


@dataclass
class OpenAICompatibleGenerator:
    """Streams replies from `{base_url}/chat/completions`.

    `base_url` includes the API prefix, e.g. "http://gpu-1:8000/v1". `timeout_s` bounds
    connecting and each wait for the next bytes, so a stalled server fails the reply instead of
    hanging it. One `httpx.Client` is kept for the generator's life, so connections are reused
    across replies; it is safe to share between threads. Every failure is a `GenerationError`.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    name: str = field(init=False)
    _client: httpx.Client = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.name = f"openai:{self.model}"
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout_s))

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    def close(self) -> None:
        self._client.close()

    def stream(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Iterator[str]:
        body = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "stream": True,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        finished = False
        try:
            with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 300:
                    response.read()
                    raise GenerationError(
                        f"{self.url} answered HTTP {response.status_code}: {_error_message(response)}"
                    )
                for data in _sse_data(response.iter_lines()):
                    # Past finish_reason or [DONE] only [DONE], usage chunks and the end of the body
                    # are left. Reading them, instead of returning, lets the connection go back to
                    # the pool: a response closed before its end drops the connection.
                    if finished:
                        continue
                    if data == DONE:
                        finished = True
                        continue
                    content, finish_reason = self._chunk(data)
                    if content:
                        yield content
                    finished = finish_reason is not None
        except httpx.TimeoutException as exc:
            if not finished:
                raise GenerationError(f"{self.url} sent nothing for {self.timeout_s}s ({type(exc).__name__})") from exc
            return
        except httpx.ConnectError as exc:
            raise GenerationError(f"cannot connect to {self.url}: {exc}") from exc
        except httpx.HTTPError as exc:
            if not finished:
                raise GenerationError(f"request to {self.url} failed: {type(exc).__name__}: {exc}") from exc
            return
        if not finished:
            raise GenerationError(f"{self.url} ended the stream before finish_reason or [DONE]")

    def _chunk(self, data: str) -> tuple[str, str | None]:
        """The content delta and finish_reason of one `chat.completion.chunk`."""
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as exc:
            raise GenerationError(f"{self.url} sent malformed JSON in the stream: {data[:200]!r}") from exc
        if not isinstance(chunk, dict):
            raise GenerationError(f"{self.url} sent a chunk that is not an object: {data[:200]!r}")
        if chunk.get("error") or chunk.get("object") == "error":
            # vLLM and others report failures after the 200 header as an error event.
            raise GenerationError(f"{self.url} failed mid-stream: {_message_of(chunk) or data[:200]}")
        choices = chunk.get("choices")
        if not choices:  # e.g. the usage chunk of stream_options.include_usage
            return "", None
        try:
            choice = choices[0]
            content = (choice.get("delta") or {}).get("content") or ""
            finish_reason = choice.get("finish_reason")
        except (AttributeError, KeyError, IndexError, TypeError) as exc:
            raise GenerationError(f"{self.url} sent a chunk without choices[0].delta: {data[:200]!r}") from exc
        if not isinstance(content, str):
            raise GenerationError(f"{self.url} sent non-text content: {data[:200]!r}")
        return content, finish_reason


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The data of each Server-Sent Event: `data:` lines joined by newlines, dispatched at a blank
    line (or at the end of the stream). Comments, `event:`, `id:` and `retry:` are ignored."""
    buffer: list[str] = []
    for line in lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
        elif line.startswith("data:"):
            value = line[5:]
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    return _message_of(body) or response.text[:500]


def _message_of(body: Any) -> str | None:
    """The message of an error body, in the shapes servers use: OpenAI and Ollama
    `{"error": {"message"}}`, vLLM `{"object": "error", "message"}`, TGI `{"error": "..."}`."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(body.get("message"), str):
        return str(body["message"])
    return None
