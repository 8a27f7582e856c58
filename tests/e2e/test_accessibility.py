"""axe-core finds no accessibility violations on the foundation's pages, at phone width, in every
language."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Page, expect

PAGES = [
    "/",
    "/kanazawa/",
    "/nayoro/",
    "/kanazawa/guide/",
    "/nayoro/guide/",
    "/kanazawa/faq/",
    "/kanazawa/offices/",
    "/kanazawa/inquiry/",
    "/nayoro/terms/",
    "/nayoro/privacy/",
    "/no-such-city/",
]


@pytest.mark.parametrize("language", ["ja", "ja-easy", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_axe_violations(page: Page, live_server, demo_data, daytime, path, language):
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    # The language as the header's switch leaves it (issue 22): every page in each language.
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}{path}")
    expect(page.locator("html")).to_have_attribute(
        "lang", settings.PORTAL_HTML_LANG.get(language, language)
    )
    # The Content-Security-Policy forbids inline script and style: nothing was blocked.
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    # Nothing overflows a 375 px wide phone screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_login_form_errors_have_no_axe_violations(page: Page, live_server, demo_data, daytime):
    page.goto(f"{live_server.url}/kanazawa/")
    page.get_by_role("button", name="ログイン").click()
    assert page.get_by_text("ログインIDを入力してください。").is_visible()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_login_works_with_the_keyboard_alone(page: Page, live_server, demo_data, daytime):
    page.goto(f"{live_server.url}/nayoro/")
    page.get_by_label("メールアドレス").focus()
    page.keyboard.type("taro@example.jp")
    page.keyboard.press("Tab")
    page.keyboard.type("Nayoro#2026")
    page.keyboard.press("Enter")
    page.wait_for_url("**/nayoro/usage/")


@pytest.mark.parametrize(
    ("path", "button"), [("/kanazawa/signup/", "メールを送信する"), ("/nayoro/", "ログイン")]
)
def test_a_refused_field_is_outlined_invalid_and_described_by_its_message(
    page: Page, live_server, demo_data, daytime, path, button
):
    """Each refused field: aria-invalid, described by its message, and a red outline seen
    without relying on the border's colour alone; the focus ring still wins when focused."""
    page.goto(f"{live_server.url}{path}")
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator(".form-errors")).to_be_visible()
    invalid = page.locator('[aria-invalid="true"]')
    assert invalid.count() >= 2
    for index in range(invalid.count()):
        field = invalid.nth(index)
        described = (field.get_attribute("aria-describedby") or "").split()
        messages = [page.locator(f"#{ref}").inner_text() for ref in described]
        assert any("ください" in message for message in messages), (described, messages)
        expect(field).to_have_css("outline-style", "solid")
        expect(field).to_have_css("outline-color", "rgb(176, 0, 32)")
    invalid.first.focus()
    expect(invalid.first).to_have_css("outline-color", "rgb(255, 191, 71)")  # --focus


@pytest.mark.parametrize("width", [320, 375, 1280])
def test_the_footer_lines_up_with_the_page_and_its_links_wrap_whole(
    page: Page, live_server, demo_data, daytime, width
):
    """The footer's text starts where the header's and the page's do, and a link that does
    not fit moves to the next line whole (never 「登録方法の|ご案内」)."""
    page.set_viewport_size({"width": width, "height": 812})
    page.goto(f"{live_server.url}/nayoro/")
    lefts = page.evaluate(
        """() => ['.site-name', 'main h1', '.site-footer__title', '.contact-block']
            .map(s => document.querySelector(s))
            .map(e => Math.round(e.getBoundingClientRect().left
                                 + parseFloat(getComputedStyle(e).paddingLeft)))"""
    )
    assert len(set(lefts)) == 1, lefts
    links = page.locator(".site-footer a")
    for index in range(links.count()):
        lines = links.nth(index).evaluate("a => a.getClientRects().length")
        assert lines == 1, (links.nth(index).inner_text(), lines)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_logout_message_is_a_status_region_axe_accepts(
    page: Page, live_server, demo_data, daytime
):
    page.goto(f"{live_server.url}/nayoro/")
    page.locator("#id_identifier").fill("taro@example.jp")
    page.locator("#id_password").fill("Nayoro#2026")
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_role("status")).to_have_text("ログアウトしました。")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
