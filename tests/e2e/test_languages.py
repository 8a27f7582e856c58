"""The resident pages in each language (issue 22), in a real browser at 375 px.

test_every_page.py walks every page in Japanese, through every form. Here each language reads
the pages a resident opens (and the forms' error states) with axe finding no violation, nothing
wider than the phone, the layout rules of tests/e2e/layout.py, ``<html lang>`` right, and
やさしい日本語's readings as ``<ruby>`` (no Aozora notation left over). Then one resident
switches language on the login page, signs in, reads the dashboard in English and in
やさしい日本語, and is mailed in their language.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Page, expect

from accounts.models import Member
from billing.models import MeterReading, Notice

from .layout import layout_problems

PHONE = 375
HTML_LANG = {"ja": "ja", "ja-easy": "ja", "en": "en"}
OPEN_PAGES = [
    "/kanazawa/",
    "/nayoro/",
    "/kanazawa/guide/",
    "/nayoro/guide/",
    "/kanazawa/faq/",
    "/nayoro/faq/",
    "/kanazawa/terms/",
    "/kanazawa/offices/",
    "/kanazawa/inquiry/",
    "/nayoro/terms/",
    "/nayoro/privacy/",
    "/kanazawa/signup/",
    "/nayoro/signup/",
    "/kanazawa/recovery/",
    "/nayoro/recovery/",
    "/kanazawa/moving/",
    "/kanazawa/moving/out/",
    "/nayoro/moving/in/",
    "/kanazawa/no-such-page/",
]
# Forms sent empty: each field's message beside it, and the summary above.
ERROR_STATES = ["/kanazawa/", "/kanazawa/signup/", "/nayoro/signup/", "/kanazawa/moving/out/"]
CONTRACT = "10000000000003"  # yamadahanako's, with a 納付書 past its 納期限 (load_demo)
MEMBER_PAGES = [
    "/kanazawa/usage/",
    f"/kanazawa/usage/{CONTRACT}/",
    f"/kanazawa/usage/{CONTRACT}/history/",
    f"/kanazawa/usage/{CONTRACT}/payments/",
    f"/kanazawa/usage/{CONTRACT}/web-slip/",
    "/kanazawa/notices/",
    "/kanazawa/account/",
    "/kanazawa/account/email/",
    "/kanazawa/account/password/",
    "/kanazawa/account/secret-question/",
    "/kanazawa/account/tax/",
    "/kanazawa/account/mail/",
    "/kanazawa/account/contracts/add/",
    "/kanazawa/account/withdraw/",
    "/kanazawa/account/watch/",
    "/kanazawa/moving/",
]


# Japanese on an English page (a text staff typed, the utility's word for the customer number,
# a gloss such as 「(納期限)」 that matches the paper slip): every run of it, in a block of its own
# or inside an English sentence, must sit in an element marked lang="ja" (WCAG 3.1.2), or a
# screen reader reads it with an English voice.
UNMARKED_JAPANESE = """() => {
  const problems = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const parent = node.parentElement;
    if (parent.closest('script, style, template, option, textarea, svg')) continue;
    if (/[\\u3040-\\u30ff\\u4e00-\\u9fff]/.test(node.textContent)
        && parent.closest('[lang]').getAttribute('lang') !== 'ja') {
      problems.push('Japanese not marked lang=ja: ' + node.textContent.trim().slice(0, 40));
    }
  }
  return problems;
}"""


class Reader:
    def __init__(self, page: Page, base: str, language: str) -> None:
        self.page, self.base, self.language = page, base, language
        self.problems: list[str] = []
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}]
        )

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.look()

    def look(self) -> None:
        """Check the page the browser is on; every problem is kept, to be told together."""
        page, language = self.page, self.language
        page.wait_for_load_state()
        where = f"{page.url} ({language})"
        problems = self.problems
        if page.locator("html").get_attribute("lang") != HTML_LANG[language]:
            problems.append(f"{where}: <html lang> is not {HTML_LANG[language]}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE:
            problems.append(f"{where}: {width} px wide")
        results = Axe().run(page)
        if results.violations_count:
            problems.append(f"{where}\n{results.generate_report()}")
        html = page.content()
        if "《" in html:
            problems.append(f"{where}: Aozora notation left on the page")
        if language == "ja-easy" and "<ruby>" not in html:
            problems.append(f"{where}: no reading on a やさしい日本語 page")
        if language == "en":
            problems += [f"{where}: {p}" for p in page.evaluate(UNMARKED_JAPANESE)]
        problems += [f"{where}: {p}" for p in layout_problems(page)]

    def send_empty(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.locator("main form button[type=submit]").first.click()
        self.look()


@pytest.mark.parametrize("language", ["ja-easy", "en"])
def test_every_resident_page_passes_axe_in_each_language(
    page: Page, live_server, demo_data, daytime, language
):
    from portal.models import Utility

    Utility.objects.filter(slug="kanazawa").update(offers_web_slip=True)
    reader = Reader(page, live_server.url, language)
    for path in OPEN_PAGES:
        reader.go(path)
    for path in ERROR_STATES:
        reader.send_empty(path)
    page.goto(live_server.url + "/kanazawa/")
    page.locator("#id_identifier").fill("yamadahanako")
    page.locator("#id_password").fill("mizu2026ab")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/kanazawa/usage/")
    reading = MeterReading.objects.filter(customer__number=CONTRACT).latest("period_end")
    notice = Notice.objects.filter(utility__slug="kanazawa").order_by("pk").first()
    for path in [
        *MEMBER_PAGES,
        f"/kanazawa/usage/{CONTRACT}/{reading.period_end.isoformat()}/",
        f"/kanazawa/notices/{notice.pk}/",
    ]:
        reader.go(path)
    reader.send_empty("/kanazawa/account/password/")
    assert not reader.problems, "\n".join(reader.problems)


def test_a_resident_switches_language_signs_in_and_is_mailed_in_it(
    page: Page, live_server, demo_data, daytime, mailoutbox
):
    page.goto(f"{live_server.url}/kanazawa/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    switch = page.get_by_role("form", name="言語 / Language")
    switch.get_by_role("button", name="English").focus()
    page.keyboard.press("Enter")  # keyboard alone
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url == f"{live_server.url}/kanazawa/"  # back on the same page
    page.locator("#id_identifier").fill("suidotaro")
    page.locator("#id_password").fill("kanazawa2026")
    page.get_by_role("button", name="Show the characters you typed").click()  # in English
    expect(page.locator("#id_password")).to_have_attribute("type", "text")
    expect(page.get_by_role("button", name="Hide the characters you typed")).to_have_text("Hide")
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url("**/kanazawa/usage/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Water usage and charges")
    expect(page.locator("main")).to_contain_text(re.compile(r"\b\d{1,2} [A-Z][a-z]{2} 20\d\d\b"))
    expect(
        page.get_by_role("button", name="English").and_(page.locator("[aria-pressed=true]"))
    ).to_be_visible()

    page.get_by_role("button", name="やさしい日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("main h1 ruby").first).to_be_visible()
    assert "《" not in page.content()
    expect(page.locator("main")).to_contain_text(re.compile(r"20\d\d年\d{1,2}月\d{1,2}日"))

    page.get_by_role("button", name="English").click()
    page.goto(f"{live_server.url}/kanazawa/account/password/")
    page.locator("#id_current_password").fill("kanazawa2026")
    page.locator("#id_password").fill("kanazawa2027")
    page.locator("#id_password_confirm").fill("kanazawa2027")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    mail = mailoutbox[-1]
    assert mail.to == [Member.objects.get(login_id="suidotaro").email]
    assert mail.subject == "[金沢市上下水道ポータルサイト] Your password has been changed"
