"""The operator console and the widget side by side in headless Chromium, against the embedded
server (`make run`): an operator signs in, a customer in another browser context asks for a
person, and the two talk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.processes import manage

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PASSWORD = "console-test-password-1"


@pytest.fixture(scope="module")
def operator_login(embedded_server: Any) -> tuple[str, str]:
    manage("console_user", "alex", "--site", "demo", "--name", "Alex", "--password", PASSWORD, env=embedded_server.env)
    return "alex", PASSWORD


@pytest.fixture
def console(browser: Any, embedded_server: Any, operator_login: tuple[str, str]) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda message: page.problems.append(message.text) if message.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.goto(f"{embedded_server.http}/console/")
    assert "/console/login/" in page.url
    page.fill('input[name="username"]', operator_login[0])
    page.fill('input[name="password"]', operator_login[1])
    page.click('button[type="submit"]')
    page.locator("#connection", has_text="Live").wait_for(timeout=20_000)
    yield page
    context.close()


def customer_asking_for_a_person(browser: Any, host_page: str) -> tuple[Any, int]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    page.locator('[data-testid="human"]').click()
    page.wait_for_function(
        "() => window.ChatbotWidget.state().status === 'waiting_human' && window.ChatbotWidget.state().conversation",
        timeout=20_000,
    )
    return page, int(page.evaluate("window.ChatbotWidget.state().conversation"))


def test_an_operator_sees_a_waiting_customer_live_takes_over_and_they_talk(
    browser: Any, console: Any, host_page: str
) -> None:
    customer, conversation = customer_asking_for_a_person(browser, host_page)
    item = console.locator(f'[data-conversation="{conversation}"]')
    item.wait_for(timeout=20_000)  # appeared without a reload, under "Waiting"
    assert "waiting" in item.inner_text()
    assert "is waiting for a person" in console.locator(".toast").inner_text()
    item.click()
    console.locator('[data-action="claim"]').click()
    customer.locator('[data-sender="system"]', has_text="Alex joined the chat.").wait_for(timeout=20_000)
    customer.wait_for_function("() => window.ChatbotWidget.state().status === 'human'", timeout=20_000)

    console.fill(".composer textarea", "Hello, this is Alex. How can I help?")
    console.press(".composer textarea", "Enter")
    reply = customer.locator('[data-sender="operator"]', has_text="How can I help?")
    reply.wait_for(timeout=20_000)
    assert "Alex" in reply.inner_text()

    customer.locator('[data-testid="input"]').fill("My lamp arrived broken.")
    customer.locator('[data-testid="input"]').press("Enter")
    console.locator(".transcript .msg.customer", has_text="My lamp arrived broken.").wait_for(timeout=20_000)
    # Classified off the reply path, then shown in the open conversation's head.
    console.locator('.conv-head [data-testid="complaint"]', has_text="complaint: ").wait_for(timeout=60_000)

    console.check('input[name="mode"][value="note"]')
    console.fill(".composer textarea", "Offer a replacement, order looks legit")
    console.press(".composer textarea", "Enter")
    console.locator(".transcript .msg.note", has_text="Offer a replacement").wait_for(timeout=20_000)
    customer.wait_for_timeout(500)
    assert "Offer a replacement" not in customer.evaluate("JSON.stringify(window.ChatbotWidget.state())")

    console.once("dialog", lambda dialog: dialog.accept())
    console.locator('[data-action="close"]').click()
    customer.locator('[data-testid="rating"]').wait_for(timeout=20_000)
    customer.locator('[data-testid="rate-4"]').click()
    customer.locator('[data-testid="rating"]', has_text="Thanks").wait_for(timeout=20_000)
    assert [p for p in console.problems if "Content Security Policy" in p or "Refused" in p] == []
    customer.context.close()


def test_when_nobody_takes_the_chat_the_customer_leaves_an_email_and_the_inbox_shows_it(
    browser: Any, console: Any, host_page: str, embedded_server: Any
) -> None:
    customer, conversation = customer_asking_for_a_person(browser, host_page)
    form = customer.locator('[data-testid="contact-form"]')
    form.wait_for(timeout=20_000)  # CHATBOT_HANDOFF_TIMEOUT_S is 4 s in the test server
    assert "nobody from our team could join yet" in form.inner_text()
    customer.locator('[data-testid="contact-email"]').fill("jo@example.org")
    customer.locator('[data-testid="contact-text"]').fill("Please call me about order LL-1234.")
    customer.locator('[data-testid="contact-send"]').click()
    customer.locator('[data-sender="system"]', has_text="jo@example.org").wait_for(timeout=20_000)

    item = console.locator(f'[data-conversation="{conversation}"]')
    item.locator(".badge", has_text="left e-mail").wait_for(timeout=20_000)
    item.click()
    console.locator(".contact", has_text="Please call me about order LL-1234.").wait_for(timeout=20_000)
    stored = manage(
        "shell",
        "-c",
        "from chatbot.conversations.models import ContactRequest as C; "
        f"print([(c.email, c.text) for c in C.objects.filter(conversation_id={conversation})])",
        env=embedded_server.env,
    )
    assert "('jo@example.org', 'Please call me about order LL-1234.')" in stored
    customer.context.close()
