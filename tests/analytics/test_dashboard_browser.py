"""The analytics dashboard in Debian's headless Chromium against the embedded server (`make run`'s
setup, SQLite), under the console's real CSP: the charts are drawn from the seeded conversations
(tests/analytics/seed.py) and the filters redraw them without reloading the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.analytics import seed
from tests.processes import manage
from tests.support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PASSWORD = "analyst-password-4711"
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""
NO_VALUE = "\N{EN DASH}"  # what a stat card shows without data


@pytest.fixture(scope="module")
def seeded(embedded_server: Any) -> dict[str, int]:
    """The seed's sites and conversations in the server's database, and an admin to sign in as."""
    out = manage(
        "shell", "-c", "from tests.analytics.seed import seed_and_print; seed_and_print()", env=embedded_server.env
    )
    manage("console_user", "analyst", "--role", "admin", "--password", PASSWORD, env=embedded_server.env)
    sites: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return sites


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, embedded_server: Any, seeded: dict[str, int]) -> Iterator[Any]:
    """A signed-in admin's tab on the dashboard of site alpha, 2025-03-03 .. 2025-03-07."""
    context = browser.new_context(timezone_id="UTC")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.console_text = []  # type: ignore[attr-defined]
    page.on("console", lambda message: page.console_text.append(message.text))
    page.unanswered_queries = []  # type: ignore[attr-defined]
    page.on(
        "request",
        lambda request: (
            "/console/analytics/unanswered?" in request.url
            and page.unanswered_queries.append(request.url.split("?", 1)[1])
        ),
    )
    query = f"site={seeded['alpha']}&start={seed.START}&end={seed.END}"
    page.goto(f"{embedded_server.http}/console/analytics/?{query}")
    page.locator('input[name="username"]').fill("analyst")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('button[type="submit"]').click()
    page.wait_for_url(f"**/console/analytics/?{query}")
    page.locator('#analytics[data-state="ready"]').wait_for(timeout=20_000)
    yield page
    context.close()


def chart_data(page: Any, canvas_id: str) -> Any:
    """The labels and first dataset a chart was drawn with, or None when there is no chart."""
    return page.evaluate(
        """(id) => {
            const chart = Chart.getChart(id);
            if (!chart) return null;
            return {labels: chart.data.labels, data: chart.data.datasets[0].data, drawn: !!chart.chartArea};
        }""",
        canvas_id,
    )


def wait_for_chart(page: Any, canvas_id: str, data: list[int]) -> None:
    page.wait_for_function(
        """([id, data]) => {
            const chart = Chart.getChart(id);
            return chart && JSON.stringify(chart.data.datasets[0].data) === JSON.stringify(data);
        }""",
        arg=[canvas_id, data],
        timeout=10_000,
    )


def stat(page: Any, name: str) -> str:
    return str(page.locator(f'[data-stat="{name}"]').inner_text())


def assert_no_csp_violation(page: Any) -> None:
    assert page.evaluate("window.__csp") == []
    assert not [text for text in page.console_text if "Content Security Policy" in text]


def test_the_dashboard_draws_its_charts_from_the_seeded_conversations(page: Any) -> None:
    per_day = chart_data(page, "chart-per-day")
    assert per_day == {
        "labels": ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"],
        "data": [3, 0, 3, 0, 0],
        "drawn": True,
    }
    assert chart_data(page, "chart-decisions")["data"] == [4, 1, 2]  # answer, clarify, handoff
    assert chart_data(page, "chart-intents") == {
        "labels": ["shipping", "refund", "returns"],
        "data": [3, 2, 1],
        "drawn": True,
    }
    assert chart_data(page, "chart-csat") == {
        "labels": ["1", "2", "3", "4", "5"],
        "data": [0, 1, 0, 1, 1],
        "drawn": True,
    }
    assert stat(page, "conversations") == "6"
    assert stat(page, "automation") == "33.3 %"
    assert "1 of 3 closed conversations" in page.locator('[data-note="automation"]').inner_text()
    assert stat(page, "handoff") == "50.0 %"
    assert stat(page, "first_token") == "275 ms"
    assert stat(page, "first_human_reply") == "6.0 min"
    assert stat(page, "csat") == "3.67 / 5"
    assert page.locator('[data-testid="timezone"]').inner_text() == "UTC"
    assert page.locator('[data-testid="empty"]').is_hidden()
    assert_no_csp_violation(page)


def test_filters_change_the_url_and_redraw_without_reloading_the_page(page: Any, seeded: dict[str, int]) -> None:
    page.evaluate("window.__samePage = true")
    page.locator('[data-testid="filter-site"]').select_option("")
    wait_for_chart(page, "chart-per-day", [4, 0, 3, 0, 0])  # beta's conversation joins on the 3rd
    assert page.url.endswith(f"/console/analytics/?start={seed.START}&end={seed.END}")
    assert stat(page, "conversations") == "7"

    page.locator('[data-testid="filter-start"]').fill("2024-01-01")
    page.locator('[data-testid="filter-end"]').fill("2024-01-05")
    page.locator("#analytics-filters").get_by_role("button", name="Apply").click()
    page.locator('[data-testid="empty"]').wait_for(state="visible", timeout=10_000)
    assert page.url.endswith("/console/analytics/?start=2024-01-01&end=2024-01-05")
    assert chart_data(page, "chart-per-day") is None  # a sentence, not an empty axis
    assert page.locator('[data-empty-for="chart-per-day"]').is_visible()
    assert page.locator("#chart-per-day").is_hidden()
    assert stat(page, "automation") == NO_VALUE

    page.go_back()  # to all sites, the seeded range
    wait_for_chart(page, "chart-per-day", [4, 0, 3, 0, 0])
    assert page.locator('[data-testid="filter-start"]').input_value() == seed.START
    assert page.locator('[data-testid="empty"]').is_hidden()

    page.locator('[data-testid="filter-start"]').fill("2025-03-09")
    page.locator("#analytics-filters").get_by_role("button", name="Apply").click()
    page.locator('[data-testid="error"]').wait_for(state="visible", timeout=10_000)
    assert page.locator('[data-testid="error"]').inner_text() == "The start date is after the end date."
    assert page.evaluate("window.__samePage") is True
    assert_no_csp_violation(page)


def clusters(page: Any) -> list[tuple[str, str, list[str]]]:
    section = page.locator('[data-testid="unanswered"][data-state="ready"]')
    section.wait_for(timeout=30_000)
    items = section.locator('[data-testid="cluster"]')
    return [
        (
            items.nth(i).locator(".cluster-label").inner_text(),
            items.nth(i).locator(".cluster-size").inner_text(),
            items.nth(i).locator(".cluster-examples li").all_inner_texts(),
        )
        for i in range(items.count())
    ]


def test_unanswered_questions_are_grouped_and_shown_as_plain_text(page: Any, seeded: dict[str, int]) -> None:
    # Clustered by the server's real embedding model: the refund question was asked twice.
    assert clusters(page) == [
        (seed.REFUND, "2 questions", [seed.REFUND]),
        (seed.SHIPPING, "1 question", [seed.SHIPPING]),
    ]
    assert page.unanswered_queries == [f"site={seeded['alpha']}&start={seed.START}&end={seed.END}&tz=UTC"]

    page.locator('[data-testid="filter-site"]').select_option("")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=cluster]').length === 3", timeout=30_000)
    assert clusters(page)[1] == (seed.HTML_QUESTION, "1 question", [seed.HTML_QUESTION])  # beta's, at 12:00 on the 3rd
    assert page.locator('[data-testid="unanswered"]').locator("img, b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert_no_csp_violation(page)


@pytest.fixture(scope="module")
def hot_sites(embedded_server: Any) -> dict[str, int]:
    """Sites "hot" and "cold" with the questions of tests/analytics/hot_topics_seed.py (recent)."""
    out = manage(
        "shell",
        "-c",
        "from tests.analytics.hot_topics_seed import seed_and_print; seed_and_print()",
        env=embedded_server.env,
    )
    sites: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return sites


def hot_topics(page: Any) -> list[tuple[str, str, str, list[int]]]:
    """Each topic shown: its label, count, trend and the data its sparkline was drawn with."""
    return [
        tuple(row)  # type: ignore[misc]
        for row in page.evaluate(
            """() => [...document.querySelectorAll('[data-testid="topic"]')].map((item) => [
                item.querySelector(".topic-label").textContent,
                item.querySelector(".topic-count").textContent,
                item.querySelector('[data-testid="topic-trend"]').textContent,
                Chart.getChart(item.querySelector("canvas")).data.datasets[0].data,
            ])"""
        )
    ]


def test_hot_topics_are_computed_on_the_first_visit_and_refreshed_on_request(
    page: Any, hot_sites: dict[str, int], embedded_server: Any
) -> None:
    from tests.analytics import hot_topics_seed

    page.goto(f"{embedded_server.http}/console/analytics/?site={hot_sites['hot']}")
    # No report yet: the visit asks for one (a thread of the embedded server), the page polls.
    section = page.locator('[data-testid="hot-topics"][data-state="ready"]')
    section.wait_for(timeout=60_000)
    shown = hot_topics(page)
    assert [(count, trend) for _, count, trend, _ in shown] == [
        ("5 questions", "\u25b2 +400 %"),
        ("3 questions", "\u25bc \u221240 %"),
        ("2 questions", "\u2605 new"),
    ]
    assert shown[0][0] in hot_topics_seed.ORDER and shown[2][0] in hot_topics_seed.REFUND
    assert shown[0][3] == [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 2]  # two weeks, a bar per day
    assert "11 questions in the 7 days up to" in page.locator('[data-testid="hot-topics-status"]').inner_text()

    computed = page.locator('[data-testid="hot-topics"]').get_attribute("data-computed-at")
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_function(
        """(before) => {
            const box = document.querySelector('[data-testid="hot-topics"]');
            return box.dataset.state === "ready" && box.dataset.computedAt && box.dataset.computedAt !== before;
        }""",
        arg=computed,
        timeout=60_000,
    )
    assert len(hot_topics(page)) == 3
    assert page.get_by_role("button", name="Refresh").is_enabled()
    assert_no_csp_violation(page)
