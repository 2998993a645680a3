"""A Chinese customer in Debian's headless Chromium: a browser set to Chinese gets the widget in
Chinese, greeted in Chinese, asks in Chinese and is answered in Chinese, and the Chinese text is
drawn with real glyphs (fonts-noto-cjk, `.ci/install-browser`), not the empty boxes ("tofu") a
missing font leaves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from intents.languages import CHINESE, detect_language
from intents.texts import text

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

KNOWLEDGE = Path(__file__).resolve().parents[2] / "chatbot" / "knowledge"
GREETING = '[data-testid="greeting"]'


@pytest.fixture
def chinese_page(browser: Any) -> Iterator[Any]:
    """A page in a browser whose language is Simplified Chinese (navigator.language zh-CN)."""
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


def _greeting_as(page: Any, replace: str) -> bytes:
    """A screenshot of the greeting with each Han character of it replaced by `replace`'s rule."""
    page.locator(GREETING).evaluate(
        """(el, rule) => {
            const t = el.querySelector('.t');
            t.dataset.original = t.dataset.original || t.textContent;
            let i = 0;
            t.textContent = Array.from(t.dataset.original).map(c => {
                if (!/\\p{Script=Han}/u.test(c)) return c;
                i += 1;
                if (rule === 'original') return c;
                if (rule === 'other-han') return String.fromCodePoint(c.codePointAt(0) + 1);
                // A private-use character: no font has it, every browser draws an empty box.
                return String.fromCodePoint((rule === 'tofu-a' ? 0xE000 : 0xE100) + i);
            }).join('');
        }""",
        replace,
    )
    return bytes(page.locator(GREETING).screenshot(animations="disabled"))


def test_a_chinese_customer_is_greeted_served_and_answered_in_chinese(chinese_page: Any, host_page: str) -> None:
    page = chinese_page
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    greeting = page.locator(GREETING)
    greeting.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => /[\\u4e00-\\u9fff]/.test(document.querySelector('chatbot-widget').shadowRoot"
        ".querySelector('[data-testid=greeting]').textContent)",
        timeout=30_000,
    )
    assert "Lumen & Loom" in greeting.inner_text()
    assert page.locator('[data-testid="input"]').get_attribute("placeholder") == "请输入消息…"
    assert page.locator('[data-testid="human"]').inner_text().strip() == "转人工"

    page.locator('[data-testid="input"]').fill("我想退货，怎么办？")
    page.locator('[data-testid="input"]').press("Enter")
    answer = page.locator('[data-testid="message"][data-sender="bot"]').last
    answer.wait_for(timeout=60_000)
    reply = answer.locator(".t").inner_text()
    chinese = json.loads((KNOWLEDGE / "demo_faq_zh.json").read_text(encoding="utf-8"))
    # The verified Chinese answer of the returns entry, word for word, with it as the source.
    returns = next(entry for entry in chinese if entry["question"] == "怎么退货？")
    assert reply == returns["answer"]
    assert detect_language(reply) == CHINESE
    sources = page.locator('[data-testid="sources"]').last
    sources.wait_for(timeout=10_000)
    assert "怎么退货？" in sources.inner_text() and "参考" in sources.inner_text()


def test_chinese_text_in_the_widget_is_drawn_with_glyphs_not_empty_boxes(chinese_page: Any, host_page: str) -> None:
    page = chinese_page
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    page.wait_for_function(
        "() => /[\\u4e00-\\u9fff]/.test(document.querySelector('chatbot-widget').shadowRoot"
        ".querySelector('[data-testid=greeting]').textContent)",
        timeout=30_000,
    )
    original = _greeting_as(page, "original")
    other_han = _greeting_as(page, "other-han")
    tofu_a, tofu_b = _greeting_as(page, "tofu-a"), _greeting_as(page, "tofu-b")
    # The method can see tofu: two different strings of characters no font has look the same.
    assert tofu_a == tofu_b
    # Chinese is not drawn as tofu: different characters look different, and unlike the boxes.
    assert original != other_han
    assert original != tofu_a


def test_asking_for_a_person_before_writing_is_answered_in_the_widgets_language(
    chinese_page: Any, host_page: str
) -> None:
    page = chinese_page
    page.goto(host_page)
    page.locator('[data-testid="launcher"]').click()
    page.locator('[data-testid="human"]', has_text="转人工").click()
    notice = page.locator('[data-testid="message"][data-sender="system"]').last
    notice.wait_for(timeout=30_000)
    assert notice.locator(".t").inner_text() == text("handoff_requested", CHINESE)
    page.wait_for_function("() => window.ChatbotWidget.state().status === 'waiting_human'", timeout=20_000)
    assert "正在为您转接人工" in page.locator(".hs").inner_text()
