"""A scripted OpenAI-compatible chat server for tests: plain ASGI, run by uvicorn in its own
process (`uvicorn tests.support.openai_server:app`), started by the `openai_server` fixture.

`POST /v1/chat/completions` replies deterministically to the last user message, streamed (SSE
`chat.completion.chunk`s, a final chunk with finish_reason, then `data: [DONE]`) or not. The reply
is cut into word pieces, one per "token", so `max_tokens` cuts it with finish_reason "length".
The model name switches on misbehaviour:

- "fail-500": HTTP 500 with an OpenAI-style error body.
- "slow": sleeps `SLOW_S` before answering at all.
- "stall": sends the first piece, then sleeps `SLOW_S`.
- "broken": sends the first piece, then a data line that is not JSON.
- "truncated": sends the pieces, then ends without finish_reason or [DONE].
- "error-in-stream": sends the first piece, then an error event (as vLLM does mid-stream).

`GET /debug/last-request` returns the last completion request: its JSON body, Authorization
header and client address (to tell whether a connection was reused). `GET /healthz` is 200.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SLOW_S = 3.0
CREATED = 1_700_000_000
FAILURE_MESSAGE = "The scripted model crashed (fail-500)."
STREAM_ERROR_MESSAGE = "The scripted model ran out of memory mid-reply."

last_request: dict[str, Any] = {}


def reply_text(messages: list[dict[str, Any]], model: str) -> str:
    """The whole reply the server gives to `messages`."""
    question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return f"You asked: {question.strip()} This is the scripted answer of {model}, word by word."


def reply_pieces(text: str) -> list[str]:
    """The reply cut as a tokenizer might: each word with the whitespace before it."""
    return re.findall(r"\s*\S+", text)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        return
    method, path = scope["method"], scope["path"]
    if method == "GET" and path == "/healthz":
        await _json(send, 200, {"ok": True})
    elif method == "GET" and path == "/debug/last-request":
        await _json(send, 200, last_request)
    elif method == "POST" and path == "/v1/chat/completions":
        await _completions(scope, receive, send)
    else:
        await _json(send, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})


async def _completions(scope: Scope, receive: Receive, send: Send) -> None:
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            break
    body = json.loads(raw)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    last_request.clear()
    last_request.update(
        {"body": body, "authorization": headers.get("authorization"), "client": list(scope["client"] or [])}
    )

    model = str(body.get("model", ""))
    if model == "fail-500":
        error = {"message": FAILURE_MESSAGE, "type": "server_error", "param": None, "code": 500}
        await _json(send, 500, {"error": error})
        return
    if model == "slow":
        await asyncio.sleep(SLOW_S)

    pieces = reply_pieces(reply_text(body.get("messages", []), model))
    finish_reason = "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and len(pieces) > max_tokens:
        pieces, finish_reason = pieces[:max_tokens], "length"

    if not body.get("stream"):
        await _json(
            send,
            200,
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(pieces)},
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": len(pieces), "total_tokens": len(pieces)},
            },
        )
        return

    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")],
        }
    )
    await _event(send, _chunk(model, {"role": "assistant", "content": ""}, None))
    for index, piece in enumerate(pieces):
        await _event(send, _chunk(model, {"content": piece}, None))
        if index == 0 and model == "stall":
            await asyncio.sleep(SLOW_S)
        if index == 0 and model == "broken":
            await _data(send, '{"id": "chatcmpl-scripted", "choices": [{"delta": {"content": "oops"')
        if index == 0 and model == "error-in-stream":
            await _data(send, json.dumps({"error": {"message": STREAM_ERROR_MESSAGE, "type": "server_error"}}))
            break
    if model != "truncated":
        await _event(send, _chunk(model, {}, finish_reason))
        await _data(send, "[DONE]")
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


async def _event(send: Send, chunk: dict[str, Any]) -> None:
    await _data(send, json.dumps(chunk))


async def _data(send: Send, data: str) -> None:
    await send({"type": "http.response.body", "body": f"data: {data}\n\n".encode(), "more_body": True})


async def _json(send: Send, status: int, body: Any) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
