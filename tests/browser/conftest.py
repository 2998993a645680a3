"""Browser fixtures: Debian's headless Chromium driven by Playwright, and a host page on a second
origin that embeds the widget with its one script tag."""

from __future__ import annotations

import http.server
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import chromium

HOST_PAGE = """<!doctype html><html><head><title>Host shop</title>
<style>* { font-family: serif !important; } button { background: red !important; }</style></head>
<body><h1>A shop on another origin</h1>
<script src="{widget}" data-site-key="demo" async></script></body></html>"""


@pytest.fixture(scope="session")
def host_page(embedded_server: Any) -> Iterator[str]:
    """A page on a second origin that embeds the widget from the server with the one tag."""
    html = HOST_PAGE.replace("{widget}", f"{embedded_server.http}/static/chatbot/widget.js").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    socketserver.TCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", embedded_server.host_page_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{embedded_server.host_page_port}/"
    server.shutdown()
    server.server_close()


# Module scope: while Playwright's sync API runs, the main thread has an event loop, which the
# asyncio tests of other modules cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
