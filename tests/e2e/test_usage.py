"""A resident with two contracts checks usage in a real browser: dashboard, chart, slip, CSV."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from billing.demo import demo_customer_number
from portal.models import Utility


def _log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/kanazawa/")
    page.get_by_label("ログインID").fill("yamadahanako")
    page.get_by_label("パスワード").fill("mizu2026ab")
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/kanazawa/usage/$"))


def _check_page(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_resident_sees_usage_switches_contract_opens_a_slip_and_downloads_csv(
    page: Page, live_server, demo_data, daytime, tmp_path: Path
):
    kanazawa = Utility.objects.get(slug="kanazawa")
    first, second = (demo_customer_number(kanazawa, i) for i in (2, 3))
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    _log_in(page, live_server.url)

    # The dashboard: the latest period as the slip shows it, for the first contract.
    expect(page.get_by_role("heading", level=1)).to_have_text("ご使用量・料金")
    expect(page.locator(".contract-summary .contract-number")).to_have_text(first)
    latest = page.get_by_role("region", name="最新のご使用量")
    for word in ("ご使用期間", "検針日", "今回の指針", "前回の指針", "使用水量", "水道料金"):
        expect(latest.get_by_text(word, exact=True)).to_be_visible()
    expect(latest.locator(".amount-figure")).to_have_text(re.compile(r"^[0-9,]+円$"))
    expect(page.get_by_role("table", name="今回の使用水量と比べた増減")).to_be_visible()
    _check_page(page)

    # Switch to the second contract; the choice survives a trip elsewhere and back.
    switcher = page.get_by_role("navigation", name="表示する契約の切り替え")
    switcher.get_by_role("link", name=re.compile(second)).click()
    expect(page.locator(".contract-summary .contract-number")).to_have_text(second)
    page.get_by_role("link", name="FAQ").click()
    page.goto(f"{live_server.url}/kanazawa/usage/")
    expect(page.locator(".contract-summary .contract-number")).to_have_text(second)

    # The history: an SVG chart a screen reader can name, with its numbers in a table.
    page.get_by_role("link", name="使用量の推移").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("使用量の推移")
    chart = page.get_by_role("img", name="使用水量のグラフ(直近の期間と前年同期)")
    expect(chart).to_be_visible()
    expect(page.get_by_role("table", name="グラフの数値(使用水量と前年同期)")).to_be_visible()
    _check_page(page)

    # One period's slip, with the qualified-invoice block (this member declares tax).
    page.get_by_role("table", name=re.compile("ご使用期間ごと")).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("上下水道料金のお知らせ(検針票)")
    expect(page.locator(".contract-number")).to_have_text(second)
    expect(page.get_by_text(kanazawa.invoice_registration_number)).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("10%対象"))).to_be_visible()
    _check_page(page)

    # The CSV of the whole history: UTF-8 with a BOM, Japanese headers, one line a period.
    page.get_by_role("link", name="使用量の推移に戻る").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSVファイルでダウンロード").click()
    download = download_info.value
    assert download.suggested_filename == f"usage_{second}.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ポータル登録番号,ご使用期間(開始),ご使用期間(終了),検針日")
    assert len(lines) == 1 + 12  # kanazawa reads every two months: 24 months of demo data
    assert all(line.startswith(f"{second},") for line in lines[1:])
    assert not blocked, blocked


@pytest.mark.parametrize(
    ("slug", "login", "password", "index"),
    [
        ("kanazawa", "yamadahanako", "mizu2026ab", 3),
        ("nayoro", "hanako@example.jp", "Mizu&2026ab", 3),
    ],
)
def test_a_large_users_figures_fit_a_phone_without_any_sideways_scroll(
    page: Page, live_server, demo_data, daytime, slug, login, password, index
):
    """A school or a shop: about 2,000 m³ and 700,000円 a period. The dashboard and the
    history fit 320 and 375 px, page and table boxes alike (tests/e2e/layout.py)."""
    from billing.models import MeterReading

    from .layout import layout_problems

    utility = Utility.objects.get(slug=slug)
    number = demo_customer_number(utility, index)
    periods = MeterReading.objects.filter(customer__utility=utility, customer__number=number)
    for step, reading in enumerate(periods.order_by("-period_end")):
        reading.usage_m3 = 1900 + 7 * step
        reading.previous_index, reading.current_index = 98000, 98000 + reading.usage_m3
        reading.water_charge, reading.sewer_charge, reading.tax = 412345, 298765, 64646
        reading.total = 711110
        reading.save()
    page.goto(f"{live_server.url}/{slug}/")
    page.locator("#id_identifier").fill(login)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="ログイン", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/{slug}/usage/$"))
    problems = []
    for path in (f"usage/{number}/", f"usage/{number}/history/"):
        page.goto(f"{live_server.url}/{slug}/{path}")
        for width in (320, 375):
            page.set_viewport_size({"width": width, "height": 812})
            problems += [f"{path} at {width} px: {p}" for p in layout_problems(page)]
    assert not problems, problems


def test_a_failed_transfer_and_the_payment_history_read_plainly_on_a_phone(
    page: Page, live_server, demo_data, daytime
):
    """yamadahanako's first contract: the demo's 振替不能 (load_demo). The dashboard says what
    happened, what comes next and whom to call; the 支払い履歴 lists every bill."""
    kanazawa = Utility.objects.get(slug="kanazawa")
    number = demo_customer_number(kanazawa, 2)
    page.set_viewport_size({"width": 375, "height": 812})
    _log_in(page, live_server.url)
    # Issue 20 finding F9: on a phone, money owed is said on the first screen, linked to the bill.
    owed = page.get_by_role("link", name=re.compile(r"^口座振替ができませんでした\(ご請求額"))
    box = owed.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 812, box
    owed.click()
    expect(page).to_have_url(re.compile(r"#bill-title$"))
    bill = page.get_by_role("region", name="最新のご請求とお支払い状況")
    expect(bill).to_contain_text("口座振替ができませんでした")
    expect(bill).to_contain_text("納付書を郵送します")
    expect(bill).to_contain_text("076-220-2111")
    expect(bill).to_contain_text("お支払いの反映には数日かかります")
    _check_page(page)
    bill.get_by_role("link", name="支払い履歴を見る").click()
    expect(page).to_have_url(re.compile(rf"/kanazawa/usage/{number}/payments/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("支払い履歴")
    expect(page.locator(".bill-list__item")).to_have_count(12)  # two years, every two months
    expect(page.locator(".bill-list .bill-status").nth(1)).to_contain_text("口座振替済み")
    _check_page(page)
