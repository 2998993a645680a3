"""Personal data never reaches the application's logs: e-mail addresses, phone numbers and card
numbers a customer types, at any level of any logger, in the web process, the real server process
and a Celery worker. The code logs ids; `chatbot/log_redaction.py` is the safety net for what it
does not control (libraries, exception messages, uvicorn's websocket and access lines)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from chatbot.conversations.models import Conversation
from chatbot.exports.filters import ExportFilter, ExportFormat
from chatbot.exports.selectors import export_lines
from chatbot.log_redaction import PersonalDataFilter, redact_log_text
from intents.generation.responder import GeneratingResponder
from intents.generation.types import GenerationError
from intents.types import Turn
from tests.intents.generation.conftest import SHOP_FAQ, HashingEmbedder, ScriptedGenerator
from tests.processes import BIN, ROOT, base_env
from tests.support.websockets import APP, ORIGIN, Widget

EMAIL = "jo.private@example.org"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"  # Luhn-valid
API_TOKEN = "cbd_Zq3xSecretApiToken0123456789abcdef"
SECRETS = (EMAIL, PHONE, CARD, "7946 0958", "4111 1111", "4111111111111111", "jo.private")
# The page the widget is on, as a form sent it: the address percent-encoded. The widget encodes
# the whole URL once more into its websocket query string.
PAGE = "https://shop.example.com/account?email=jo.private%40example.org&phone=%2B44%2020%207946%200958"
CUSTOMER_SAYS = (
    f"Hi, I'm {EMAIL}, call me on {PHONE}",
    f"my card {CARD} was charged twice",
    f"Please talk to a human, mail {EMAIL}",
)


def leaked(text: str) -> list[str]:
    """The secrets in `text`, also looked for in it URL-decoded (twice, `+` as a space)."""
    readings = [text, urllib.parse.unquote(urllib.parse.unquote(text))]
    readings.append(urllib.parse.unquote_plus(readings[-1]))
    return [secret for secret in SECRETS if any(secret in reading for reading in readings)]


def everything_logged(records: list[logging.LogRecord]) -> str:
    """The records as a handler writes them: message, arguments and traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.fixture
def everything_at_debug(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG into caplog, as the code logs it: the settings' filter is taken off
    the root's handlers, since it redacts a record in place for every handler after it."""
    for handler in logging.getLogger().handlers:
        monkeypatch.setattr(handler, "filters", [f for f in handler.filters if not isinstance(f, PersonalDataFilter)])
    # A logging.config.dictConfig() run by an earlier test (a command, a worker started in-process)
    # disables the loggers that existed then: nothing of theirs would reach the capture.
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.disabled:
            monkeypatch.setattr(logger, "disabled", False)
    caplog.set_level(logging.DEBUG)
    yield caplog


def is_bot_message(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["sender"] == "bot"


async def widget_on(page: str, token: str | None = None) -> Widget:
    query = urllib.parse.urlencode({"site": "demo", **({"token": token} if token else {}), "page": page})
    communicator = WebsocketCommunicator(
        APP, f"/ws/chat/?{query}", headers=[(b"host", b"chat.example.net"), (b"origin", ORIGIN.encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    widget = Widget(communicator)
    widget.session = await widget.receive()
    return widget


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_a_conversation_full_of_personal_data_logs_none_of_it_at_any_level(
    demo_site: Any, everything_at_debug: pytest.LogCaptureFixture
) -> None:
    # Proof the capture works whatever ran before in this process (with the models already loaded,
    # the conversation itself may log nothing at all).
    logging.getLogger("chatbot.conversations").debug("capture check")
    with override_settings(CHATBOT_DISPATCH="inprocess"):
        widget = await widget_on(PAGE)
        for text in CUSTOMER_SAYS:
            await widget.ask(text)
            await widget.until(is_bot_message, timeout=90)
        await widget.send({"type": "contact", "email": EMAIL, "text": f"Call {PHONE} or charge {CARD}"})
        await asyncio.sleep(0.5)
        token = widget.session["token"]
        await widget.close()
        # A returning visitor: the token and the page are in the query string again.
        widget = await widget_on(PAGE, token=token)
        await widget.close()

    records = everything_at_debug.records
    assert records, "nothing was logged at DEBUG: the capture is not working"
    assert leaked(everything_logged(records)) == []


def test_a_generator_error_that_quotes_the_customer_is_logged_without_their_personal_data(
    everything_at_debug: pytest.LogCaptureFixture,
) -> None:
    from intents.gate import GatePolicy
    from intents.retrieval import FaqIndex, RetrievalResponder

    embedder = HashingEmbedder()
    retrieval = RetrievalResponder(embedder, FaqIndex.build(SHOP_FAQ, embedder), policy=GatePolicy())
    # What an OpenAI-compatible backend's malformed chunk looks like in the error message.
    error = GenerationError(f'server sent malformed JSON: \'{{"content": "Sure {EMAIL}, we call {PHONE}"\'')
    responder = GeneratingResponder(retrieval, ScriptedGenerator(deltas=["We "], fail_with=error))
    answer = list(responder.answer([Turn("customer", f"How long do I have to return an item? I'm {EMAIL}")]))[-1]
    assert "generator failed" in answer.reason  # the failure was logged and the FAQ answer sent
    logged = everything_logged(everything_at_debug.records)
    assert "generation failed" in logged and "[email]" in logged
    assert leaked(logged) == []


def test_the_filter_redacts_messages_arguments_tracebacks_and_encoded_urls() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.abuse.pii")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(f"customer wrote {EMAIL}")
        logger.info("message %s from %r, %d items", f"card {CARD}", PHONE, 3)
        logger.info("payload %(text)s", {"text": f"call {PHONE}"})
        try:
            raise ValueError(f"could not parse {EMAIL!r}")
        except ValueError:
            logger.exception("reply %s failed", 42)
        encoded = urllib.parse.quote(PAGE, safe="")
        logging.getLogger("tests.abuse.pii").info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws/chat/?site=demo&token=abc.DEF-1&page={encoded}"
        )
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    out = stream.getvalue()
    assert leaked(out) == []
    assert "customer wrote [email]" in out and "3 items" in out and "ValueError" in out and "failed" in out
    assert "token=[redacted]" in out and "abc.DEF-1" not in out
    assert "/ws/chat/?site=demo" in out  # the rest of the line stays
    # Text with nothing personal is left exactly as it was.
    plain = "GET /console/?page=2&q=refund%20policy 200 order LL-2024-000123 at 49.90"
    assert redact_log_text(plain) == plain


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "access_token",
        "refresh_token",
        "key",
        "api_key",
        "apikey",
        "x-api-key",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "password",
        "auth",
        "Authorization",
        "sessionid",
    ],
)
def test_query_parameters_named_like_a_credential_are_masked_in_log_lines(name: str) -> None:
    query = f"site=demo&{name}=cbd_s3cr3t-V4lue&from=2026-11-01"
    line = f'127.0.0.1:5000 - "GET /api/v1/exports/messages.jsonl?{query} HTTP/1.1" 401'
    assert redact_log_text(line) == line.replace("cbd_s3cr3t-V4lue", "[redacted]")
    # ... first in the query string, and percent-encoded inside a page URL of the widget's socket.
    assert redact_log_text(f"GET /?{name}=cbd_s3cr3t-V4lue") == f"GET /?{name}=[redacted]"
    page = urllib.parse.quote(f"https://shop.example.com/reset?{name}=cbd_s3cr3t-V4lue", safe="")
    assert "cbd_s3cr3t-V4lue" not in redact_log_text(f"WebSocket /ws/chat/?site=demo&page={page}")


@pytest.mark.parametrize("name", ["site", "page", "q", "from", "status", "monday", "author", "design"])
def test_other_query_parameters_are_left_as_they_are(name: str) -> None:
    line = f"GET /console/exports/?{name}=shop-2&redact=1 HTTP/1.1"
    assert redact_log_text(line) == line


def test_the_settings_put_the_filter_on_every_handler_and_route_uvicorn_through_it() -> None:
    from chatbot.log_redaction import PersonalDataFilter as Filter

    def filtered(handler: logging.Handler) -> bool:
        return any(isinstance(f, Filter) for f in handler.filters)

    ours = [h for h in logging.getLogger().handlers if type(h).__module__ == "logging"]
    assert ours and all(filtered(h) for h in ours)
    for name in ("uvicorn", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        assert uvicorn_logger.handlers and all(filtered(h) for h in uvicorn_logger.handlers), name
        assert uvicorn_logger.propagate is False  # its lines go out once, through the filter


def test_a_celery_worker_s_log_handlers_redact_personal_data() -> None:
    script = (
        "import logging\n"
        "from chatbot.celery import app\n"
        "app.log.setup(loglevel='INFO', logfile=None, redirect_stdouts=False, colorize=False)\n"
        "from celery.utils.log import get_task_logger\n"
        f"logging.getLogger('chatbot.conversations').warning('customer wrote %s', {EMAIL!r})\n"
        f"get_task_logger('replies.reply_generate').warning('card %s', {CARD!r})\n"
        "print('done', flush=True)\n"
    )
    result = subprocess.run(
        [str(BIN / "python"), "-c", script], cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "customer wrote [email]" in output and "card [card]" in output
    assert leaked(output) == []


@pytest.mark.django_db
def test_a_redacted_export_has_no_address_even_percent_encoded_in_the_page_url(shop_site: Any) -> None:
    from chatbot.conversations.models import Message, Visitor

    visitor = Visitor.objects.create(site=shop_site)
    # (A phone number percent-encoded in the page URL is not caught: exports redact the page URL as
    # text, and `intents.redaction` decodes only an encoded `@`.)
    page = "https://shop.example.com/account?email=jo.private%40example.org&step=2"
    conversation = Conversation.objects.create(site=shop_site, visitor=visitor, page_url=page)
    Message.objects.create(conversation=conversation, seq=1, sender="customer", text=CUSTOMER_SAYS[0])
    export_filter = ExportFilter(site_ids=(shop_site.pk,), redact=True)
    for export_format in ExportFormat:
        out = "".join(export_lines(export_format=export_format, export_filter=export_filter))
        assert leaked(out) == [], export_format


@pytest.mark.integration
@pytest.mark.slow
async def test_the_real_server_s_log_holds_no_personal_data_and_no_visitor_token(embedded_server: Any) -> None:
    """uvicorn logs every websocket URL (page and token in its query string) and HTTP query strings."""
    http_origin = embedded_server.http
    page = urllib.parse.quote(PAGE, safe="")
    url = f"{embedded_server.ws}/ws/chat/?site=demo&page={page}"
    async with websockets.connect(url, origin=http_origin, open_timeout=20) as connection:  # type: ignore[arg-type]
        session = json.loads(await connection.recv())
        token = session["token"]
        for text in CUSTOMER_SAYS[:2]:
            await connection.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": text}))
            async with asyncio.timeout(60):
                while not is_bot_message(json.loads(await connection.recv())):
                    pass
    async with websockets.connect(f"{url}&token={token}", origin=http_origin, open_timeout=20) as connection:  # type: ignore[arg-type]
        assert json.loads(await connection.recv())["type"] == "session"
    query = urllib.parse.urlencode({"site": "demo", "email": EMAIL, "card": CARD})
    await asyncio.to_thread(lambda: urllib.request.urlopen(f"{http_origin}/?{query}", timeout=10).read())
    # An API token in the URL (refused there: tokens go in the Authorization header) is not logged.
    api_url = f"{http_origin}/api/v1/exports/messages.jsonl?access_token={API_TOKEN}&api_key={API_TOKEN}"
    with pytest.raises(urllib.error.HTTPError):
        await asyncio.to_thread(lambda: urllib.request.urlopen(api_url, timeout=10).read())
    await asyncio.sleep(1)  # the access line is written after the response

    log = embedded_server.process.log.read_text(errors="replace")
    assert "/ws/chat/?site=demo" in log and "GET /?site=demo" in log  # the lines are there, redacted
    assert leaked(log) == []
    assert token not in log
    assert "/api/v1/exports/messages.jsonl?access_token=[redacted]&api_key=[redacted]" in log
    assert API_TOKEN not in log
