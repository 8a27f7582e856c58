"""A resident opens the portal in a real browser, logs in and out; closed hours show 503."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import time_machine
from playwright.sync_api import Page, expect

JST = ZoneInfo("Asia/Tokyo")


def test_kanazawa_resident_logs_in_and_out(page: Page, live_server, demo_data, daytime):
    page.goto(f"{live_server.url}/kanazawa/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "金沢市上下水道ポータルサイト ログイン"
    )
    expect(page.get_by_text("ご利用可能時間は、毎日AM7:00〜AM2:00の間です。")).to_be_visible()
    page.get_by_label("ログインID").fill("suidotaro")
    page.get_by_label("パスワード").fill("kanazawa2026")
    page.get_by_label("次回からIDの入力を省略").check()
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/kanazawa/usage/$"))
    expect(page.get_by_text("10000000000001")).to_be_visible()
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/kanazawa/$"))
    expect(page.get_by_text("ログアウトしました。")).to_be_visible()
    expect(page.get_by_label("ログインID")).to_have_value("suidotaro")


def test_nayoro_resident_logs_in_with_email(page: Page, live_server, demo_data, daytime):
    page.goto(f"{live_server.url}/nayoro/")
    page.get_by_label("メールアドレス").fill("taro@example.jp")
    page.get_by_label("パスワード").fill("Nayoro#2026")
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/nayoro/usage/$"))


def test_closed_hours_visit_shows_the_503_page(page: Page, live_server, demo_data):
    at_night = datetime.datetime.now(JST).replace(hour=3, minute=0, second=0, microsecond=0)
    with time_machine.travel(at_night, tick=True):
        response = page.goto(f"{live_server.url}/kanazawa/")
    assert response.status == 503
    assert 4 * 3600 - 60 <= int(response.headers["retry-after"]) <= 4 * 3600
    expect(page.get_by_text("ご利用可能時間は、毎日AM7:00〜AM2:00の間です。")).to_be_visible()


def test_qr_code_as_rendered_by_chromium_decodes_to_the_login_url(
    page: Page, live_server, demo_data, daytime
):
    import io

    import zxingcpp
    from PIL import Image

    page.goto(f"{live_server.url}/kanazawa/guide/")
    png = page.locator("svg.qr").screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in results] == [f"{live_server.url}/kanazawa/"]
