"""The page at `/` in a real headless Chromium (Debian's package; `make test` installs it),
driven by Playwright against the test stack: pick a user, page forward and back, click an
item, and see the event stored and the page decoded from the new history. The last screen is
saved under the test's temporary folder, or where GENREC_SCREENSHOT says
(`GENREC_SCREENSHOT=reports/page.png make test` refreshes the README's), so a test run never
changes a tracked file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import API_KEY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless as root in a closed network: no sandbox, and none of Chromium's own connections.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium (make test installs Debian's chromium)"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def _items(page) -> list[str]:
    return page.locator("#recs li").evaluate_all("els => els.map(e => e.dataset.item)")


def _lines(page) -> list[str]:
    return page.locator("#recs li").all_inner_texts()


def test_a_person_pages_through_and_clicks(browser, stack, small_synthetic, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{stack.url}/#key={API_KEY}")
    # It opens on the first example user, with the served model's version.
    page.wait_for_function("document.querySelectorAll('#recs li').length === 5")
    assert page.locator("#examples option").count() == 8
    assert page.locator("#model").inner_text().startswith("model genrec:")
    assert page.locator("#fallback").is_hidden()

    user = small_synthetic.users[-2].id  # no other test writes to this one
    page.fill("#user", user)
    page.click("button[type=submit]")
    page.wait_for_function(f"document.getElementById('status').textContent.startsWith({user!r})")
    first = _items(page)
    assert len(first) == 5
    assert page.locator("#history li").count() == min(10, len(small_synthetic.users[-2]))

    page.click("#next")
    page.wait_for_function("document.getElementById('page-label').textContent.includes('2')")
    second = _items(page)
    assert len(second) == 5 and not set(first) & set(second)  # a chain never repeats an item
    page.click("#prev")
    page.wait_for_function("document.getElementById('page-label').textContent.includes('1')")
    assert _items(page) == first  # the same token, the same page

    before = _lines(page)
    clicked = first[2]
    page.locator("#recs li").nth(2).click()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('recorded')")
    # Stored: the API's own history read shows it, newest first, and so does the page.
    with httpx.Client(base_url=stack.url) as client:
        history = client.get("/v1/history", params={"user_id": user, "limit": 1}).json()
    assert history["items"][0]["item_id"] == clicked
    assert page.locator("#history li").first.get_attribute("data-item") == clicked
    assert _lines(page) != before  # decoded again, from a history that now ends in the click
    assert page.locator("#status").get_attribute("class") != "error" and not errors
    screenshot = Path(os.environ.get("GENREC_SCREENSHOT", tmp_path / "page.png"))
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one
    page.close()


def test_the_api_docs_load_without_a_cdn(browser, stack):
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None)
    page.goto(f"{stack.url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)  # Swagger UI rendered
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/recommendations" in paths and "/v1/history" in paths
    assert not outside, outside
    page.close()


def test_history_and_page_config_answer_clients(stack, small_synthetic):
    user = small_synthetic.users[-3]
    with httpx.Client(base_url=stack.url) as client:
        got = client.get("/v1/history", params={"user_id": user.id, "limit": 3}).json()
        unknown = client.get("/v1/history", params={"user_id": "nobody-here"})
        bad = client.get("/v1/history", params={"user_id": user.id, "limit": 0})
        config = client.get("/ui/config").json()
        index = client.get("/")
    ids = [small_synthetic.items[i].id for i in user.items[-3:][::-1]]
    assert [i["item_id"] for i in got["items"]] == ids
    assert got["items"][0]["title"] == small_synthetic.items[user.items[-1]].title
    assert unknown.status_code == 404 and "unknown user_id" in unknown.json()["detail"]
    assert bad.status_code == 422
    assert config["example_users"] == [u.id for u in small_synthetic.users[:8]]
    assert config["writes_need_key"] is True and config["page_size"] == 5
    assert index.status_code == 200 and "/ui/app.js" in index.text
