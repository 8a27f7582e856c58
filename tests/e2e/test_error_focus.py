"""After a refused submit, focus lands on the error summary (issue 15 review, finding 5).

A keyboard or screen-reader user who pressed Enter on an empty form otherwise starts again at
the top of the reloaded page (skip link, site name, three header links) and may never hear
the role=alert box that was already in the page when it loaded. A small static script moves
focus there; without JavaScript the page still shows the same box and messages.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

REFUSED_FORMS = [
    ("/nayoro/", "ログイン"),
    ("/kanazawa/", "ログイン"),
    ("/kanazawa/signup/", "メールを送信する"),
    ("/nayoro/signup/", "認証コードの送信"),
    ("/kanazawa/recovery/", "次へ"),
]


def _submit_empty(page, url: str, button: str) -> None:
    page.goto(url)
    page.get_by_role("button", name=button, exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#form-errors")).to_be_visible()


@pytest.mark.parametrize(("path", "button"), REFUSED_FORMS)
def test_a_refused_submit_puts_focus_on_the_error_summary(
    browser: Browser, live_server, demo_data, daytime, path, button
):
    page = browser.new_page(viewport={"width": 375, "height": 812}, locale="ja-JP")
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    _submit_empty(page, f"{live_server.url}{path}", button)
    expect(page.locator("#form-errors")).to_be_focused()
    assert not blocked, blocked
    page.close()


@pytest.mark.parametrize(("path", "button"), REFUSED_FORMS[:3])
def test_without_javascript_the_refused_form_still_shows_its_messages(
    browser: Browser, live_server, demo_data, daytime, path, button
):
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, locale="ja-JP", java_script_enabled=False
    )
    page = context.new_page()
    _submit_empty(page, f"{live_server.url}{path}", button)
    expect(page.locator("#form-errors")).to_contain_text("入力")
    context.close()
