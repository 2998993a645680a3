"""The widget in Debian's headless Chromium, embedded cross-origin on a host page, talking to the
embedded server (the `make run` setup)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.processes import manage

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def ask(page: Any, text: str) -> Any:
    page.locator('[data-testid="input"]').fill(text)
    page.locator('[data-testid="input"]').press("Enter")
    answer = page.locator('[data-testid="message"][data-sender="bot"]').last
    answer.wait_for(timeout=30_000)
    return answer


def test_a_visitor_on_another_origin_asks_in_their_own_words_and_sees_the_answer_with_its_source(
    page: Any, host_page: str
) -> None:
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    assert page.locator('[data-testid="human"]').is_visible()
    answer = ask(page, "do you deliver to Australia?")
    sources = page.locator('[data-testid="sources"]').last
    sources.wait_for(timeout=10_000)
    assert "Do you ship outside the EU and UK?" in sources.inner_text()
    assert len(answer.inner_text()) > 20
    # The host page's aggressive CSS does not reach into the widget's shadow root.
    font = page.locator('[data-testid="send"]').evaluate("el => getComputedStyle(el).fontFamily")
    assert "serif" not in font.replace("sans-serif", "")


def test_the_demo_page_runs_the_widget_under_its_content_security_policy(page: Any, embedded_server: Any) -> None:
    """The demo page's CSP (scripts from this server only, websockets to its own host) lets the
    widget load, connect and answer, and Chromium reports no violation."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)
    response = page.goto(f"{embedded_server.http}/")
    host = embedded_server.http.removeprefix("http://")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and f"connect-src 'self' ws://{host} wss://{host};" in policy
    page.locator('[data-testid="launcher"]').click()
    answer = ask(page, "do you deliver to Australia?")
    assert len(answer.inner_text()) > 20
    assert not [p for p in problems if "Content Security Policy" in p], problems


def test_html_in_a_customer_message_and_in_an_faq_answer_shows_as_text_and_never_runs(
    page: Any, host_page: str, embedded_server: Any
) -> None:
    manage(
        "shell",
        "-c",
        "from chatbot.knowledge.models import FaqEntry; from chatbot.sites.models import Site; "
        "FaqEntry.objects.update_or_create(site=Site.objects.get(key='demo'), "
        f"question='What is the secret markup test?', defaults={{'answer': {XSS!r}}})",
        env=embedded_server.env,
    )
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    answer = ask(page, "What is the secret markup test?")
    customer = page.locator('[data-testid="message"][data-sender="customer"]').last
    assert customer.inner_text().strip() == "What is the secret markup test?"
    page.wait_for_function(
        "() => window.ChatbotWidget.state().messages.some(m => m.sender === 'bot' && m.text.includes('onerror'))",
        timeout=20_000,
    )
    assert XSS in answer.inner_text()
    ask_xss = page.locator('[data-testid="input"]')
    ask_xss.fill(XSS)
    ask_xss.press("Enter")
    page.locator('[data-testid="message"][data-sender="customer"]', has_text="onerror").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0
    assert page.dialogs == []


def test_the_conversation_survives_a_page_reload(page: Any, host_page: str) -> None:
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    ask(page, "How much is postage?")
    page.wait_for_function("() => window.ChatbotWidget.state().lastSeq >= 2", timeout=20_000)
    before = page.evaluate("window.ChatbotWidget.state().messages.map(m => [m.seq, m.sender, m.text])")
    page.reload()
    page.locator('[data-testid="launcher"]').click()
    page.wait_for_function(f"() => window.ChatbotWidget.state().lastSeq >= {before[-1][0]}", timeout=20_000)
    after = page.evaluate("window.ChatbotWidget.state().messages.map(m => [m.seq, m.sender, m.text])")
    assert [m for m in after if m[0] is not None] == [m for m in before if m[0] is not None]


def test_a_clarifying_question_offers_buttons_and_a_handoff_changes_the_status(
    page: Any, host_page: str, embedded_server: Any
) -> None:
    script = (
        "from chatbot.knowledge.models import FaqEntry; from chatbot.sites.models import Site\n"
        "site = Site.objects.get(key='demo')\n"
        "for q, a in [('How do I reset my card PIN?', 'Use the PIN page.'),\n"
        "             ('How do I reset my gift card code?', 'Use the gift card page.')]:\n"
        "    FaqEntry.objects.update_or_create(\n"
        "        site=site, question=q, defaults={'answer': a, 'alternatives': ['how do I reset my code']})\n"
    )
    manage(
        "shell",
        "-c",
        script,
        env=embedded_server.env,
    )
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    ask(page, "how do I reset my code")
    options = page.locator('[data-testid="option"]')
    options.first.wait_for(timeout=20_000)
    assert sorted(options.all_inner_texts()) == ["How do I reset my card PIN?", "How do I reset my gift card code?"]
    page.locator('[data-testid="option"]', has_text="gift card").click()
    page.locator('[data-testid="message"][data-sender="bot"]', has_text="Use the gift card page.").wait_for(
        timeout=20_000
    )

    page.locator('[data-testid="human"]').click()
    page.wait_for_function("() => window.ChatbotWidget.state().status === 'waiting_human'", timeout=20_000)
    assert page.locator('[data-testid="message"][data-sender="system"]').count() >= 1
