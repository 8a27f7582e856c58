"""A guest moves in, a member moves out, staff complete the move-out: in a real browser, with
every mail crossing a real SMTP hop (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import datetime
import email
import re
import socket
import threading
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from accounts.models import ContractLink, Member
from moving.models import MoveApplication
from portal.models import Utility

STATUS_LINK = re.compile(r"https?://\S+/moving/status/\S+/")


class Inbox:
    """An SMTP server keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:  # aiosmtpd cannot bind port 0: pick a free port first
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def last_to(self, address: str) -> email.message.EmailMessage:
        with self.lock:
            found = [m for m in self.messages if address in m["To"]]
        assert found, f"no mail to {address}"
        return found[-1]


@pytest.fixture
def inbox(settings):
    box = Inbox()
    box.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", box.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield box
    box.controller.stop()


def workable_day(utility: Utility) -> datetime.date:
    """The first day the utility's form takes (its earliest day, past any closed day)."""
    settings = utility.moving_settings
    day = settings.first_day()
    while settings.closed_reason(day) is not None:
        day += datetime.timedelta(days=1)
    return day


def _check(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_guest_move_in_member_move_out_and_staff_completion(
    page: Page, browser, live_server, demo_data, daytime, inbox
):
    nayoro = Utility.objects.get(slug="nayoro")
    day = workable_day(nayoro)
    base = f"{live_server.url}/nayoro"

    # A guest moving in.
    page.goto(f"{base}/moving/")
    _check(page)
    page.get_by_role("link", name="使用開始を申し込む").click()
    page.get_by_label("ご使用場所の住所").fill("名寄市西1条南10丁目")
    page.get_by_label("建物名・アパート名・部屋番号").fill("コーポ名寄 101")
    page.get_by_label("使用開始日").fill(day.isoformat())
    page.get_by_label("お名前", exact=True).fill("名寄 花子")
    page.get_by_label("お名前カナ").fill("なよろ はなこ")
    page.get_by_label("連絡先電話番号").fill("090-1111-2222")
    page.get_by_label("メールアドレス").fill("newcomer@example.jp")
    page.get_by_label("口座振替(申込書を郵送します)").check()
    box = page.locator("#id_wants_membership").bounding_box()
    words = page.locator("label[for=id_wants_membership]").bounding_box()
    assert words["x"] > box["x"] and words["y"] < box["y"] + box["height"]  # one line at 375 px
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申し込み内容の確認")
    expect(page.locator(".slip")).to_contain_text("ナヨロ ハナコ")
    _check(page)
    page.get_by_role("button", name="申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申し込みを受け付けました")
    move_in = MoveApplication.objects.get(kind="move_in")
    expect(page.locator(".slip")).to_contain_text(move_in.reference)
    _check(page)
    mail = inbox.last_to("newcomer@example.jp")
    assert "使用開始のお申し込みを受け付けました" in mail["Subject"]
    assert move_in.reference in _body(mail)
    page.goto(STATUS_LINK.search(_body(mail)).group(0))
    expect(page.locator(".slip")).to_contain_text("受付済")
    _check(page)

    # A member moving out of one of her contracts.
    page.goto(f"{base}/")
    page.locator("#id_identifier").fill("hanako@example.jp")
    page.locator("#id_password").fill("Mizu&2026ab")
    page.get_by_role("button", name="ログイン").click()
    hanako = Member.objects.get(utility=nayoro, email="hanako@example.jp")
    contract = hanako.contracts.order_by("number").first()
    page.goto(f"{base}/moving/")
    page.get_by_role("link", name="この契約の使用中止を申し込む").first.click()
    expect(page.locator(".slip")).to_contain_text(contract.number)
    page.get_by_label("使用中止日").fill(day.isoformat())
    page.get_by_label("精算書の送付先(転居先の住所)").fill("札幌市中央区北1条西2丁目1-1")
    page.get_by_label("納付書(精算書の送付先へ郵送)").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    page.get_by_role("button", name="申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申し込みを受け付けました")
    move_out = MoveApplication.objects.get(kind="move_out")
    assert move_out.member == hanako and move_out.customer == contract
    assert move_out.reference in _body(inbox.last_to("hanako@example.jp"))

    # Staff complete it with a note; the member is told and her link ends on the day.
    staff = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    staff.goto(f"{live_server.url}/admin/")
    staff.get_by_label("ログインID").fill("nayoro-staff")
    staff.get_by_label("パスワード").fill("Nayoro-Staff-2026")
    staff.get_by_role("button", name="ログイン").click()
    staff.goto(f"{live_server.url}/admin/moving/moveapplication/")
    expect(staff.locator("#result_list")).to_contain_text(move_in.reference)
    staff.get_by_role("link", name=move_out.reference).click()
    staff.get_by_label("完了", exact=True).check()
    staff.get_by_label("お客さまへの連絡事項").fill("最終の検針にうかがいます。")
    staff.get_by_role("button", name="保存", exact=True).click()
    expect(staff.locator(".messagelist")).to_be_visible()
    staff.close()
    move_out.refresh_from_db()
    assert move_out.status == "done"
    link = ContractLink.objects.get(member=hanako, customer=contract)
    assert link.ended_on == day
    done = inbox.last_to("hanako@example.jp")
    assert "完了" in done["Subject"]
    assert "最終の検針にうかがいます。" in _body(done)
    page.goto(f"{base}/account/")
    panel = page.get_by_role("region", name="引越しの手続き")
    expect(panel).to_contain_text(move_out.reference)
    expect(panel).to_contain_text("完了")
    _check(page)


def test_guest_name_change_and_a_members_move_in_reaching_her_contracts(
    page: Page, browser, live_server, demo_data, daytime, inbox
):
    import io

    from billing.imports import import_customers
    from moving.models import MovingSettings

    nayoro = Utility.objects.get(slug="nayoro")
    MovingSettings.objects.filter(utility=nayoro).update(offers_name_change=True)
    day = workable_day(nayoro)
    base = f"{live_server.url}/nayoro"

    # A guest asks for a change of holder of 20000000004 (inherited by 花子).
    holder = nayoro.customers.get(number="20000000004")
    page.goto(f"{base}/moving/")
    page.get_by_role("link", name="名義変更を申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("名義変更のお申し込み")
    _check(page)
    page.locator("#id_customer_number").fill(holder.number)
    page.locator("#id_name_kana").fill(holder.name_kana)
    page.locator("#id_phone").fill(holder.phone)
    page.get_by_label("名義変更日").fill(day.isoformat())
    page.get_by_label("新しい名義人のお名前", exact=True).fill("名寄 花子")
    page.get_by_label("新しい名義人のお名前カナ").fill("なよろ はなこ")
    page.get_by_label("新しい名義人の電話番号").fill("090-1111-2222")
    page.get_by_label("新しい名義人のメールアドレス").fill("heir@example.jp")
    page.get_by_label("相続").check()
    page.get_by_label("納付書", exact=True).check()
    page.get_by_label("お申し込みの方のメールアドレス").fill("heir@example.jp")
    page.get_by_role("button", name="入力内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申し込み内容の確認")
    _check(page)
    page.get_by_role("button", name="申し込む").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("お申し込みを受け付けました")
    change = MoveApplication.objects.get(kind="name_change")
    assert change.matched and change.customer == holder
    assert "名義変更のお申し込みを受け付けました" in inbox.last_to("heir@example.jp")["Subject"]

    # A member moves in and asks for the new contract in her membership.
    page.goto(f"{base}/")
    page.locator("#id_identifier").fill("taro@example.jp")
    page.locator("#id_password").fill("Nayoro#2026")
    page.get_by_role("button", name="ログイン").click()
    page.goto(f"{base}/moving/in/")
    page.get_by_label("ご使用場所の住所").fill("名寄市西3条南5丁目")
    page.get_by_label("使用開始日").fill(day.isoformat())
    page.get_by_label("お名前", exact=True).fill("水道 太郎")
    page.get_by_label("お名前カナ").fill("すいどう たろう")
    page.get_by_label("連絡先電話番号").fill("0165-42-9999")
    page.get_by_label("口座振替(申込書を郵送します)").check()
    page.get_by_label("新しい契約が登録されたら、この会員情報に追加する").check()
    page.get_by_role("button", name="入力内容を確認する").click()
    page.get_by_role("button", name="申し込む").click()
    move_in = MoveApplication.objects.get(kind="move_in")

    # Staff complete it with the CIS's new number, before the CIS's file brings it.
    staff = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    staff.goto(f"{live_server.url}/admin/")
    staff.get_by_label("ログインID").fill("nayoro-staff")
    staff.get_by_label("パスワード").fill("Nayoro-Staff-2026")
    staff.get_by_role("button", name="ログイン").click()
    staff.goto(f"{live_server.url}/admin/moving/moveapplication/{move_in.pk}/change/")
    staff.get_by_label("完了", exact=True).check()
    staff.get_by_role("button", name="保存", exact=True).click()
    error = staff.locator(".field-new_customer_number .errorlist")
    expect(error).to_contain_text("新しい契約の番号を入力してください")
    staff.get_by_label("完了", exact=True).check()
    staff.get_by_label("新しい契約のお客様番号").fill("20000000777")
    staff.get_by_role("button", name="保存", exact=True).click()
    expect(staff.locator(".messagelist")).to_be_visible()
    staff.close()
    taro = Member.objects.get(utility=nayoro, email="taro@example.jp")
    assert not taro.contracts.filter(number="20000000777").exists()

    # The night's import of contracts brings it: she is linked and told.
    header = "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm"
    row = "nayoro,20000000777,名寄 太郎,ナヨロ タロウ,名寄市西3条南5丁目,,0165429999,13"
    result = import_customers(io.BytesIO(f"{header},meter_number\n{row},777\n".encode()))
    assert result.ok and result.inserted == 1
    added = inbox.last_to("taro@example.jp")
    assert "ご契約がポータルに追加されました" in added["Subject"]
    assert "20000000777" in _body(added)
    page.goto(f"{base}/account/")
    expect(page.locator("main")).to_contain_text("20000000777")
    _check(page)
