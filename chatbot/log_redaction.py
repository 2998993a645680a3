"""A safety net for personal data in logs: every record that reaches a handler has its e-mail
addresses, phone numbers and card numbers replaced (`intents.redaction`), and visitor tokens in
URLs masked.

The code itself logs ids, not what customers type. This catches what it does not control: an
exception whose message quotes a customer's words, a library's debug line, and uvicorn's lines
for each websocket, whose query string holds the page the visitor is on (`?page=...%3Femail%3D
jo%2540example.org`, percent-encoded, which is decoded before it is checked), the visitor's
token (which opens their conversation) and any other query parameter named like a credential
(`access_token`, `api_key`, `signature`, `password`, ...).

Wired into `settings.LOGGING` on the console handler (uvicorn's loggers are routed through it),
and onto Celery's handlers in `chatbot/celery.py`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from intents.redaction import redact

# A run of URL characters with a percent-escape or a `+` (a space, in a query string) in it.
_ENCODED = re.compile(r"[^\s\"'<>]*(?:%[0-9A-Fa-f]{2}|\+)[^\s\"'<>]*")
# A query parameter named like a credential: token, access_token, key, api_key, apikey, secret,
# signature, sig, password, auth, session... (also as the end of a longer name: reset_token, x-api-key).
# Its value is masked wherever it appears: uvicorn logs every URL, an API token in `?access_token=`
# included, even when the request is refused.
_SECRET_PARAM = re.compile(
    r"(?<![\w.\-])([\w.\-]*(?:token|key|secret|signature|sig|password|passwd|pwd|pass|auth|authorization|"
    r"credentials?|session|sessionid|jwt|otp)=)[^&\s\"'#;]+",
    re.IGNORECASE,
)
_MAX_UNQUOTE = 3  # a page URL inside a query string is encoded twice


def _decoded(text: str) -> str:
    for _ in range(_MAX_UNQUOTE):
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def _redact_encoded(match: re.Match[str]) -> str:
    raw = match.group()
    decoded = _decoded(raw)
    redacted = redact(decoded)
    # Then with `+` read as a space (`card=4111+1111+...`), after the first pass, so the `+` of
    # an address (`jo+shop@...`) has already gone with it.
    spaced = redacted.replace("+", " ")
    if redact(spaced) != spaced:
        redacted = redact(spaced)
    redacted = _SECRET_PARAM.sub(r"\1[redacted]", redacted)
    # Left as it was when decoding finds nothing: the line stays what the library wrote.
    return raw if redacted == decoded else redacted


def redact_log_text(text: str) -> str:
    """`text` without personal data or credentials in query strings, looking inside percent-encoded URLs too."""
    if "%" in text or "+" in text:
        text = _ENCODED.sub(_redact_encoded, text)
    if "=" in text:
        text = _SECRET_PARAM.sub(r"\1[redacted]", text)
    return redact(text)


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value  # kept as they are, so `%d` and `%.2f` still format them
    text = value if isinstance(value, str) else str(value)
    redacted = redact_log_text(text)
    # An object is kept when its text has nothing to redact, so `%r` still shows its repr.
    return value if redacted == text and not isinstance(value, str) else redacted


class PersonalDataFilter(logging.Filter):
    """Redacts a record's message, arguments, traceback and stack in place; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_log_text(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_redact_arg(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
        return True
