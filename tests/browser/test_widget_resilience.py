"""The widget and the console in headless Chromium against a scripted server: Playwright stands in
for the websocket (`route_web_socket`), so a test decides every frame and when it arrives.

- Refused for its rate (`rate_limited`, close 4429), the widget waits the `retry_after` it was told
  before it connects again, whatever nudges it; a message refused for its rate stays in the outbox
  and goes again, with the same client_id, once the wait is over.
- Once the conversation is no longer the bot's (taken over, waiting for a person, closed), a bot
  reply that was streaming disappears and later pieces of it never show, in the widget and in the
  operator's console.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.processes import manage

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
WIDGET_JS = ROOT / "static" / "chatbot" / "widget.js"
SHOP = "http://shop.test/"
HOST_PAGE = """<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>
<script src="http://chat.test/static/chatbot/widget.js" data-site-key="demo" data-open="true"></script>
</body></html>"""
# Times (performance.now(), ms) of every socket the page opens, every frame it sends or receives
# and every close.
RECORD_SOCKETS = """(() => {
  const Socket = window.WebSocket;
  const log = window.__sockets = {opens: [], sent: [], received: [], closes: []};
  window.WebSocket = function (url, protocols) {
    const socket = protocols === undefined ? new Socket(url) : new Socket(url, protocols);
    log.opens.push(performance.now());
    const send = socket.send.bind(socket);
    socket.send = (data) => { log.sent.push({t: performance.now(), frame: JSON.parse(data)}); send(data); };
    socket.addEventListener('close', (e) => log.closes.push({t: performance.now(), code: e.code}));
    socket.addEventListener('message', (e) => log.received.push({t: performance.now(), frame: JSON.parse(e.data)}));
    return socket;
  };
  window.WebSocket.prototype = Socket.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();"""
WIDGET_STATE = "window.ChatbotWidget.state()"


def session(conversation: int | None = None, last_seq: int = 0, status: str = "bot") -> dict[str, Any]:
    return {
        "type": "session",
        "protocol": 1,
        "token": "visitor-token",
        "visitor": "4f0c",
        "conversation": conversation,
        "last_seq": last_seq,
        "status": status,
        "waiting_since": None,
        "handoff_timeout_s": None,
        "site": {"name": "Shop", "greeting": "Hi!", "color": "#3b5bdb", "language": "en"},
    }


def message(conversation: int, seq: int, sender: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "conversation": conversation,
        "seq": seq,
        "sender": sender,
        "text": text,
        "reply_to": None,
        "sources": [],
        "options": [],
        "author": None,
        "client_id": None,
        "created_at": "2026-11-25T12:00:00+00:00",
        **extra,
    }


@dataclass
class Connection:
    route: Any  # playwright WebSocketRoute
    received: list[dict[str, Any]] = field(default_factory=list)

    def send(self, frame: dict[str, Any]) -> None:
        self.route.send(json.dumps(frame))


@dataclass
class ScriptedServer:
    """The chat server's side of each connection: `on_open(n, connection)` for the n-th connection
    (0-based), `on_frame(connection, frame)` for each frame the widget sends."""

    on_open: Callable[[int, Connection], None]
    on_frame: Callable[[Connection, dict[str, Any]], None] = lambda connection, frame: None
    connections: list[Connection] = field(default_factory=list)

    def handle(self, route: Any) -> None:
        connection = Connection(route)
        number = len(self.connections)
        self.connections.append(connection)

        def received(data: str | bytes) -> None:
            frame = json.loads(data)
            connection.received.append(frame)
            self.on_frame(connection, frame)

        route.on_message(received)
        self.on_open(number, connection)


def open_widget(page: Any, server: ScriptedServer) -> None:
    page.route(SHOP, lambda route: route.fulfill(status=200, content_type="text/html", body=HOST_PAGE))
    page.route(
        "http://chat.test/static/chatbot/widget.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", path=str(WIDGET_JS)),
    )
    page.route_web_socket(re.compile(r"^ws://chat\.test/ws/chat/"), server.handle)
    page.add_init_script(RECORD_SOCKETS)
    page.goto(SHOP)


def open_widget_asked(page: Any) -> Connection:
    """The widget back to conversation 7, whose customer has asked a question (seq 1): the
    connection, ready for the bot's reply to stream."""

    def on_frame(connection: Connection, frame: dict[str, Any]) -> None:
        if frame["type"] == "resume":
            connection.send(message(7, 1, "customer", "Where is my parcel?", client_id="c1"))

    server = ScriptedServer(lambda number, connection: connection.send(session(7, 1)), on_frame)
    open_widget(page, server)
    page.wait_for_function(f"() => {WIDGET_STATE}.lastSeq === 1", timeout=10_000)
    return server.connections[0]


def notices(page: Any) -> list[str]:
    return [text.strip() for text in page.locator('[data-testid="notice"]').all_inner_texts()]


@pytest.fixture
def widget_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    yield page
    assert page.problems == []  # type: ignore[attr-defined]
    context.close()


def test_a_widget_refused_for_its_rate_waits_retry_after_before_it_connects_again(widget_page: Any) -> None:
    page = widget_page

    def on_open(number: int, connection: Connection) -> None:
        if number == 0:
            message = "You're connecting too often. Please wait 2 seconds."
            connection.send({"type": "error", "code": "rate_limited", "message": message, "retry_after": 2})
            connection.route.close(code=4429, reason="rate limited")
        else:
            connection.send(session())

    open_widget(page, ScriptedServer(on_open))
    page.wait_for_function("() => window.__sockets.closes.length === 1", timeout=10_000)
    # The network comes back, the tab becomes visible, the customer writes: none of it hurries the wait.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.evaluate("window.ChatbotWidget.send('Hello?')")
    page.wait_for_function(f"() => {WIDGET_STATE}.connected", timeout=15_000)

    sockets = page.evaluate("window.__sockets")
    assert sockets["closes"][0]["code"] == 4429
    assert len(sockets["opens"]) == 2
    # Told 2 s (by the error frame): it waited that, plus jitter, not much more. widget.js lets a
    # connection start up to 20 ms before the end of the wait rather than set another timer.
    refused_at = next(f["t"] for f in sockets["received"] if f["frame"].get("code") == "rate_limited")
    waited_ms = sockets["opens"][1] - refused_at
    assert 2000 - 20 <= waited_ms <= 2000 * 1.25 + 2000
    assert "You're connecting too often. Please wait 2 seconds." in notices(page)
    # The message written meanwhile went out on the new connection.
    assert [f["frame"]["text"] for f in sockets["sent"] if f["frame"]["type"] == "message"] == ["Hello?"]


def test_a_message_refused_for_its_rate_stays_and_goes_again_after_retry_after_without_hammering(
    widget_page: Any,
) -> None:
    page = widget_page
    refused: list[str] = []
    seq = iter(range(1, 100))

    def on_frame(connection: Connection, frame: dict[str, Any]) -> None:
        if frame["type"] != "message":
            return
        if not refused:
            refused.append(frame["client_id"])
            text = "You're sending messages too quickly. Please wait 2 seconds."
            connection.send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": text,
                    "retry_after": 2,
                    "client_id": frame["client_id"],
                }
            )
            return
        number = next(seq)
        connection.send({"type": "ack", "client_id": frame["client_id"], "seq": number, "conversation": 7})
        connection.send(message(7, number, "customer", frame["text"], client_id=frame["client_id"]))

    server = ScriptedServer(lambda number, connection: connection.send(session()), on_frame)
    open_widget(page, server)
    page.wait_for_function(f"() => {WIDGET_STATE}.connected", timeout=10_000)
    page.evaluate("window.ChatbotWidget.send('first')")
    page.wait_for_function("() => window.__sockets.sent.length === 1", timeout=5_000)
    page.locator('[data-testid="notice"]').wait_for(timeout=5_000)
    page.evaluate("window.ChatbotWidget.send('second')")  # written during the wait
    page.wait_for_function(
        f"() => {WIDGET_STATE}.messages.length === 2 && {WIDGET_STATE}.messages.every(m => !m.pending)",
        timeout=10_000,
    )

    sockets = page.evaluate("window.__sockets")
    refused_at = next(f["t"] for f in sockets["received"] if f["frame"].get("code") == "rate_limited")
    sent = [f for f in sockets["sent"] if f["frame"]["type"] == "message"]
    assert [f["frame"]["text"] for f in sent] == ["first", "first", "second"]
    assert sent[1]["frame"]["client_id"] == sent[0]["frame"]["client_id"] == refused[0]
    # Nothing went out during the wait: the refused message and the next one wait 2 s (plus jitter).
    assert all(f["t"] >= refused_at + 2000 for f in sent[1:])
    assert len(server.connections) == 1
    assert [(m["seq"], m["text"]) for m in page.evaluate(f"{WIDGET_STATE}.messages")] == [(1, "first"), (2, "second")]
    assert "You're sending messages too quickly. Please wait 2 seconds." in notices(page)


@pytest.mark.parametrize("status", ["human", "waiting_human", "closed"])
def test_a_bot_reply_streaming_when_the_bot_stops_answering_disappears_and_never_comes_back(
    widget_page: Any, status: str
) -> None:
    page = widget_page

    connection = open_widget_asked(page)
    for delta in ("Your parcel ", "left our "):
        connection.send({"type": "token", "reply_to": 1, "delta": delta})
    streaming = page.locator('[data-testid="streaming"]')
    streaming.wait_for(timeout=5_000)
    assert streaming.inner_text().strip() == "Your parcel left our"

    extra = (
        {"waiting_since": "2026-11-25T12:00:00+00:00", "handoff_timeout_s": 120} if status == "waiting_human" else {}
    )
    connection.send({"type": "status", "status": status, **extra})
    page.wait_for_function(f"() => {WIDGET_STATE}.status === {status!r}", timeout=5_000)
    for delta in ("warehouse ", "yesterday."):  # pieces already on their way when the bot stopped
        connection.send({"type": "token", "reply_to": 1, "delta": delta})
    connection.send({"type": "typing", "sender": "operator"})
    page.locator('[data-testid="typing"]').wait_for(timeout=5_000)  # the frames after the tokens arrived

    assert streaming.count() == 0
    text = page.locator("chatbot-widget").inner_text()
    assert "parcel left" not in text and "warehouse" not in text and "yesterday" not in text


def test_a_reply_streamed_again_by_another_worker_starts_over_instead_of_repeating(widget_page: Any) -> None:
    page = widget_page

    connection = open_widget_asked(page)
    for delta in ("Your parcel ", "left "):  # the first worker dies here
        connection.send({"type": "token", "reply_to": 1, "delta": delta, "attempt": 1})
    for delta in ("Your parcel ", "left our warehouse."):  # the next one starts from the beginning
        connection.send({"type": "token", "reply_to": 1, "delta": delta, "attempt": 2})
    streaming = page.locator('[data-testid="streaming"]')
    page.wait_for_function(
        "() => (document.querySelector('chatbot-widget').shadowRoot || document)"
        ".querySelector('[data-testid=\"streaming\"]')?.textContent.includes('warehouse')",
        timeout=5_000,
    )
    assert streaming.inner_text().strip() == "Your parcel left our warehouse."


# --- the operator's console ---

OPERATOR = ("sam-takeover", "console-takeover-password-1")


@pytest.fixture(scope="module")
def takeover_operator(embedded_server: Any) -> tuple[str, str]:
    manage(
        "console_user",
        OPERATOR[0],
        "--site",
        "demo",
        "--name",
        "Sam",
        "--password",
        OPERATOR[1],
        env=embedded_server.env,
    )
    return OPERATOR


def conversation_row(status: str) -> dict[str, Any]:
    return {
        "id": 7,
        "status": status,
        "assignee": {"id": 1, "name": "Sam"} if status == "human" else None,
        "site": {"id": 1, "name": "Demo"},
        "visitor": "4f0c",
        "updated_at": "2026-11-25T12:00:00+00:00",
        "waiting_since": None,
        "last_message": None,
    }


@pytest.mark.integration
@pytest.mark.slow
def test_in_the_console_a_bot_reply_streaming_when_an_operator_takes_over_disappears(
    browser: Any, embedded_server: Any, takeover_operator: tuple[str, str]
) -> None:
    connections: list[Connection] = []

    def handle(route: Any) -> None:
        connection = Connection(route)
        connections.append(connection)

        def received(data: str | bytes) -> None:
            frame = json.loads(data)
            if frame["type"] == "open":
                customer = message(7, 1, "customer", "Where is my parcel?", sentiment_label=None)
                connection.send(
                    {
                        "type": "conversation_view",
                        "conversation": conversation_row("bot"),
                        "messages": [customer],
                        "notes": [],
                        "contacts": [],
                    }
                )

        route.on_message(received)
        connection.send({"type": "hello", "operator": {"id": 1, "name": "Sam"}, "handoff_timeout_s": 120})
        connection.send({"type": "inbox", "conversations": [conversation_row("bot")]})

    context = browser.new_context()
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.route_web_socket(re.compile(r"/ws/console/$"), handle)
        page.goto(f"{embedded_server.http}/console/")
        page.fill('input[name="username"]', takeover_operator[0])
        page.fill('input[name="password"]', takeover_operator[1])
        page.click('button[type="submit"]')
        page.locator('[data-tab="bot"]').click()
        page.locator('[data-conversation="7"]').click()
        transcript = page.locator("#conversation")
        transcript.locator(".msg.customer").wait_for(timeout=10_000)
        connection = connections[-1]
        for delta in ("Your parcel ", "left our "):
            connection.send({"type": "token", "conversation": 7, "reply_to": 1, "delta": delta})
        transcript.locator(".msg.bot.streaming").wait_for(timeout=5_000)

        connection.send({"type": "status", "conversation": 7, "status": "human"})
        connection.send({"type": "conversation", "conversation": conversation_row("human"), "kind": "assigned"})
        for delta in ("warehouse ", "yesterday."):
            connection.send({"type": "token", "conversation": 7, "reply_to": 1, "delta": delta})
        connection.send({"type": "typing", "conversation": 7, "sender": "customer"})
        transcript.get_by_text("is typing").wait_for(timeout=5_000)  # the frames after the tokens arrived

        assert transcript.locator(".msg.bot").count() == 0
        text = transcript.inner_text()
        assert "parcel left" not in text and "warehouse" not in text and "yesterday" not in text
        assert problems == []
    finally:
        context.close()
