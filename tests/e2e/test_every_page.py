"""Every resident page at every width from 320 to 1280 px, and axe and the CSP at 375 px.

One walk goes through both signup journeys (with their error states), both recoveries, the
usage pages and 会員情報 as residents would. Each page it lands on is checked at 375 px (axe,
nothing CSP blocks), then resized through WIDTHS without reloading (so a page that is the
answer to a POST is seen at every width too) and its layout checked at each (tests/e2e/
layout.py: no sideways scroll, no squeezed cell, no date, amount or word split across lines).
Its URL name is recorded; the last assertion compares what was walked with the URLconf, so a
page added later fails here until the walk reaches it (or it is listed in NOT_PAGES with the
reason).
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from playwright.sync_api import Page, expect

from accounts.models import Member
from billing.demo import DEMO_DATE
from billing.models import Customer, WebSlip
from portal.models import Utility

from .layout import layout_problems

PHONE = 375
# Phones to desktops: a two-column list once fitted 375 and 1280 px and broke at 480-700.
WIDTHS = (320, 375, 414, 480, 540, 600, 680, 768, 900, 1024, 1280)
SHOTS = os.environ.get("PORTAL_SCREENSHOTS")
# URL names that answer no page of their own (a POST that redirects, a mailed link that
# stashes its token and redirects, a file download, the admin, a health check).
NOT_PAGES = {
    "index:healthz",
    "accounts:logout",
    "accounts:set_language",  # the language switch: a POST back to the page (test_languages.py)
    "accounts:signup_link",
    "accounts:signup_complete",
    "accounts:signup_code_resend",
    "accounts:recovery_link",
    "accounts:profile_email_link",
    "billing:history_csv",
    "billing:slip_pdf",
    "billing:invoice_pdf",
    "billing:receipt_pdf",
}
SIGNUP_LINK = re.compile(r"https?://\S+/signup/link/\S+/")
RESET_LINK = re.compile(r"https?://\S+/recovery/link/\S+/")
EMAIL_LINK = re.compile(r"https?://\S+/account/email/link/\S+/")
WATCH_CONSENT = re.compile(r"(/kanazawa/watch/consent/\S+/)")
WATCH_STOP = re.compile(r"(/kanazawa/watch/stop/\S+/)")
CODE = re.compile(r"(?:検証コード|認証コード): (\d{6})")
MOVING_STATUS = re.compile(r"https?://\S+(/nayoro/moving/status/\S+/)")


class Walk:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base, self.seen, self.shots = page, base, set(), 0
        self.layout: list[str] = []
        self.csp_errors: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.csp_errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.look()

    def look(self) -> None:
        """Check the page the browser is on, and remember which view it was."""
        page = self.page
        page.wait_for_load_state()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, f"{page.url} is {width} px wide at {PHONE} px"
        results = Axe().run(page)
        assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
        assert not self.csp_errors, self.csp_errors
        try:
            match = resolve(urlparse(page.url).path)
            name = f"{match.namespace or 'index'}:{match.url_name}"
        except Resolver404:
            name = "index:not-found"
        self.seen.add(name)
        self.shots += 1
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 812})
            self.layout += [f"{page.url} at {width} px: {p}" for p in layout_problems(page)]
            if SHOTS:  # PORTAL_SCREENSHOTS=dir keeps a full-page picture of each page and width
                path = Path(SHOTS) / f"{self.shots:03d}-{name.replace(':', '-')}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size({"width": PHONE, "height": 812})
        page.emulate_media(media="print")  # a slip is printed: its heading breaks no word either
        self.layout += [f"{page.url} printed: {p}" for p in layout_problems(page)]
        page.emulate_media(media="screen")

    def click(self, name: str, role: str = "button") -> None:
        self.page.get_by_role(role, name=name, exact=True).click()
        self.look()


def _url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}")

    walk(get_resolver().url_patterns, "index")
    return names


def _information_pages(walk: Walk) -> None:
    walk.go("/")
    for slug in ["kanazawa", "nayoro"]:
        for path in ["", "guide/", "faq/", "offices/", "inquiry/", "terms/", "privacy/"]:
            walk.go(f"/{slug}/{path}")


def _error_pages(walk: Walk) -> None:
    """A mistyped address and a form that sat open too long, under their utility."""
    page = walk.page
    walk.go("/kanazawa/no-such-page/")
    expect(page.locator(".site-footer")).to_contain_text("076-220-2111")
    walk.go("/nayoro/")
    page.context.clear_cookies()  # as if the CSRF cookie had expired
    page.locator("#id_identifier").fill("taro@example.jp")
    page.locator("#id_password").fill("Nayoro#2026")
    walk.click("ログイン")
    expect(page.get_by_role("heading", level=1)).to_have_text("このページは表示できません")
    expect(
        page.get_by_role("link", name="← 名寄市上下水道ポータルのトップページへ")
    ).to_be_visible()


def _kanazawa_signup(walk: Walk, mailoutbox) -> None:
    page = walk.page
    contract = Customer.objects.get(utility__slug="kanazawa", number="10000000000004")
    walk.go("/kanazawa/signup/")
    walk.click("メールを送信する")  # every error at once
    page.get_by_label("メールアドレス", exact=True).fill("walk@example.jp")
    page.get_by_label("メールアドレス (確認用)").fill("walk@example.jp")
    page.get_by_label("ご利用規約に同意する").check()
    walk.click("メールを送信する")
    page.goto(SIGNUP_LINK.search(mailoutbox[-1].body).group(0))
    walk.look()
    secret = page.get_by_role("group", name=re.compile("^秘密の質問と回答"))
    expect(secret).to_have_css("border-top-style", "solid")  # accounts.css, not the groove
    expect(secret.locator("legend")).to_have_css("font-weight", "700")
    expect(secret.locator(".required")).to_have_count(1)
    walk.click("入力内容を確認する")  # the details' error state
    page.get_by_label("ポータル登録番号").fill(contract.number)
    page.get_by_label("お客さま名").fill(contract.name)
    page.get_by_label("住所(市町村名・番地)").fill(contract.address)
    page.get_by_label("連絡先電話番号").fill(contract.phone)
    page.get_by_label("ご希望のログインID").fill("michiyuki01")
    page.locator("#id_password").fill("aruku2026")
    page.get_by_label("ご希望のパスワード(確認用)").fill("aruku2026")
    page.get_by_label("質問", exact=True).select_option(label="あなたの一番好きな食べ物は何?")
    page.get_by_label("回答").fill("バナナ")
    page.get_by_label("消費税申告の有無").select_option(label="無")
    page.get_by_label("金沢市上下水道ポータルサイトを知ったきっかけ").select_option(label="検針票")
    walk.click("入力内容を確認する")
    errors = page.locator(".field__errors, .form-errors").all_inner_texts()
    expect(page.get_by_role("heading", level=1), str(errors)).to_have_text("お客さま情報の確認")
    walk.click("入力画面に戻る")
    page.locator("#id_password").fill("aruku2026")
    page.get_by_label("ご希望のパスワード(確認用)").fill("aruku2026")
    walk.click("入力内容を確認する")
    walk.click("本会員申請する")
    expect(page.get_by_role("heading", level=1)).to_have_text("会員登録が完了しました")


def _nayoro_signup(walk: Walk, mailoutbox) -> None:
    page = walk.page
    contract = Customer.objects.get(utility__slug="nayoro", number="20000000004")
    walk.go("/nayoro/signup/")
    page.get_by_label("メールアドレス").fill("walk@example.jp")
    walk.click("認証コードの送信")
    page.get_by_label("認証コード").fill(
        "000000" if "000000" not in mailoutbox[-1].body else "111111"
    )
    walk.click("次へ")  # a wrong code
    page.get_by_label("認証コード").fill(CODE.search(mailoutbox[-1].body).group(1))
    walk.click("次へ")
    walk.click("確認")  # the details' error state
    page.get_by_label("お名前(ニックネームでも登録いただけます)").fill("あるく")
    page.get_by_label("パスワード", exact=True).fill("Aruku#2026")
    page.get_by_label("パスワード(確認用)").fill("Aruku#2026")
    page.get_by_label("お客様番号").fill("29999999999")
    page.get_by_label("電話番号").fill(contract.phone)
    page.get_by_label("お客様氏名カナ").fill(contract.name_kana)
    page.get_by_role("group", name="利用規約").get_by_label("同意する").check()
    page.get_by_role("group", name="個人情報の取り扱いについて").get_by_label("同意する").check()
    walk.click("確認")
    walk.click("登録")  # 「該当する契約が見つかりませんでした」
    expect(page.get_by_text("該当する契約が見つかりませんでした。", exact=False)).to_be_visible()
    walk.go("/nayoro/signup/complete/")  # that tab reopened: a page that says where to go on
    expect(page.get_by_role("heading", level=1)).to_have_text("この画面は再表示できません")
    walk.click("入力画面に戻る", role="link")
    page.get_by_label("お客様番号").fill(contract.number)
    page.get_by_label("パスワード", exact=True).fill("Aruku#2026")
    page.get_by_label("パスワード(確認用)").fill("Aruku#2026")
    walk.click("確認")
    walk.click("登録")
    expect(page.get_by_role("heading", level=1)).to_have_text("4/4 会員登録完了")


def _recoveries(walk: Walk, mailoutbox) -> None:
    page = walk.page
    walk.go("/kanazawa/recovery/")
    page.get_by_label("ご登録のメールアドレス").fill("taro@example.jp")
    page.get_by_label("ポータル登録番号").fill("10000000000001")
    walk.click("次へ")
    page.get_by_label("回答").fill("ミカン")
    walk.click("次へ")  # a wrong answer
    page.get_by_label("回答").fill("バナナ")
    walk.click("次へ")
    page.goto(RESET_LINK.search(mailoutbox[-1].body).group(0))
    walk.look()
    page.locator("#id_password").fill("kanazawa2026")
    page.locator("#id_password_confirm").fill("kanazawa2026")
    walk.click("設定する")
    walk.go("/nayoro/recovery/")
    page.get_by_label("メールアドレス").fill("hanako@example.jp")
    walk.click("認証コードの送信")
    page.get_by_label("認証コード").fill(CODE.search(mailoutbox[-1].body).group(1))
    walk.click("次へ")
    page.locator("#id_password").fill("Mizu&2026ab")
    page.locator("#id_password_confirm").fill("Mizu&2026ab")
    walk.click("設定する")


def _log_in(walk: Walk, slug: str, identifier: str, password: str) -> None:
    walk.go(f"/{slug}/")
    walk.page.locator("#id_identifier").fill(identifier)
    walk.page.locator("#id_password").fill(password)
    walk.click("ログイン")


def _failed_mail(member: Member) -> None:
    from django.utils import timezone

    from portal.models import OutboxMail

    OutboxMail.objects.create(
        utility=member.utility,
        member=member,
        recipient=member.email,
        template="accounts/password_changed",
        key="walk:failed",
        sender=member.utility.sender_email,
        subject="★【金沢市上下水道ポータルサイト】パスワード変更のお知らせ",
        status=OutboxMail.Status.FAILED,
        last_error="550 5.1.1 No such user",
        failed_at=timezone.now(),
    )


def _workable_day(slug: str) -> str:
    settings = Utility.objects.get(slug=slug).moving_settings
    day = settings.first_day()
    while settings.closed_reason(day) is not None:
        day += datetime.timedelta(days=1)
    return day.isoformat()


def _moving(walk: Walk, mailoutbox) -> None:
    """使用開始・使用中止 as a guest: the menu, both forms with their error state, 確認, 完了
    and the mailed status page."""
    page = walk.page
    from moving.models import MovingSettings

    MovingSettings.objects.filter(utility__slug="kanazawa").update(offers_name_change=True)
    walk.go("/kanazawa/moving/")
    walk.go("/kanazawa/moving/out/")
    walk.click("入力内容を確認する")  # every field's error
    walk.go("/kanazawa/moving/holder/")
    walk.click("入力内容を確認する")
    walk.go("/nayoro/moving/in/")
    page.get_by_label("ご使用場所の住所").fill("名寄市西1条南10丁目")
    page.get_by_label("建物名・アパート名・部屋番号").fill("コーポ名寄 101")
    page.get_by_label("使用開始日").fill(_workable_day("nayoro"))
    page.get_by_label("お名前", exact=True).fill("名寄 花子")
    page.get_by_label("お名前カナ").fill("ナヨロ ハナコ")
    page.get_by_label("連絡先電話番号").fill("09011112222")
    page.get_by_label("メールアドレス").fill("newcomer@example.jp")
    page.get_by_label("納付書").check()
    walk.click("入力内容を確認する")
    walk.click("申し込む")
    walk.go(MOVING_STATUS.search(mailoutbox[-1].body).group(1))


def _member_move_out(walk: Walk) -> None:
    page = walk.page
    walk.go("/kanazawa/moving/")
    page.get_by_role("link", name="この契約の使用中止を申し込む").first.click()
    walk.look()
    page.get_by_label("使用中止日").fill(_workable_day("kanazawa"))
    page.get_by_label("精算書の送付先(転居先の住所)").fill("石川県金沢市広坂1丁目1-1")
    page.get_by_label("口座振替(現在の口座から引き落とし)").check()
    walk.click("入力内容を確認する")
    walk.click("申し込む")
    walk.go("/kanazawa/moving/")
    page.get_by_role("link", name="この契約の名義変更を申し込む").first.click()
    walk.look()


def _usage_and_profile(walk: Walk, mailoutbox) -> None:
    page = walk.page
    live_url = walk.base
    _log_in(walk, "kanazawa", "yamadahanako", "mizu2026ab")
    # お知らせ: the demo's, one for all (public, on the login page) and one for her area.
    walk.go("/kanazawa/notices/")
    page.get_by_role("link", name="配水管工事に伴う断水のお知らせ(泉野町地区)").click()
    walk.look()
    walk.go("/kanazawa/usage/10000000000003/")
    expect(page.locator(".notices-panel")).to_contain_text("ポータルサイトの定期メンテナンス")
    # Web明細 (the walk's Kanazawa offers it): its page, its error state, and the choice made.
    page.locator(".contract-summary").get_by_role("link", name="変更する").click()
    walk.look()
    page.get_by_label("紙の検針票を止めて、このポータルで確認する(Web明細)").check()
    walk.click("変更する")
    expect(page.locator(".contract-summary")).to_contain_text("Web明細(紙は")
    walk.look()
    page.get_by_role("link", name="使用量の推移").click()
    walk.look()
    # 支払い履歴: this demo contract's latest slip is past its 納期限 (load_demo).
    page.get_by_role("link", name="支払い履歴", exact=True).click()
    expect(page.locator(".bill-status").first).to_contain_text("納期限を過ぎています")
    walk.look()
    page.get_by_role("link", name="最新のご使用量").click()
    page.get_by_role("link", name="この期間の検針票を見る").click()
    expect(page.get_by_role("region", name="お支払い状況")).to_contain_text("未納: 納期限 11月26日")
    walk.look()
    _failed_mail(Member.objects.get(login_id="yamadahanako"))  # 会員情報 lists it
    _member_move_out(walk)  # 会員情報 lists it too
    for path in ["", "password/", "secret-question/", "tax/", "contracts/add/", "withdraw/"]:
        walk.go(f"/kanazawa/account/{path}")
    walk.go("/kanazawa/account/mail/")
    page.get_by_label("今月のご使用量・料金のお知らせ(検針のたび)").uncheck()
    walk.click("変更する")
    expect(page.locator("#mail-choices-title + dl")).to_contain_text("受け取らない")
    walk.look()
    # 見守り: the member's page with its error state, then the second person's consent and stop.
    walk.go("/kanazawa/account/watch/")
    walk.click("確認のメールを送る")
    # A long address (the outside attack's): every page naming it wraps it at 375 px.
    page.get_by_label("見守る方のメールアドレス").fill(
        "mimamori.long.address.for.testing.layout@example-family-domain.jp"
    )
    page.get_by_label("お知らせする使用水量(1回の検針でこれ未満のとき)").fill("3")
    walk.click("確認のメールを送る")
    body = mailoutbox[-1].body
    page.goto(live_url + WATCH_CONSENT.search(body).group(1))
    walk.look()
    walk.click("同意して受け取る")
    page.goto(live_url + WATCH_STOP.search(body).group(1))
    walk.look()
    walk.click("停止する")
    walk.go("/kanazawa/account/watch/")  # 「見守る方が停止しました」 beside the long address
    walk.go("/kanazawa/account/email/")
    page.locator("#id_current_password").fill("mizu2026ab")
    page.get_by_label("新しいメールアドレス", exact=True).fill("hanako.new@example.jp")
    page.get_by_label("新しいメールアドレス (確認用)").fill("hanako.new@example.jp")
    walk.click("メールを送信する")
    page.goto(EMAIL_LINK.search(mailoutbox[-1].body).group(0))
    walk.look()
    _log_in(walk, "nayoro", "taro@example.jp", "Nayoro#2026")
    walk.go("/nayoro/account/name/")
    walk.go("/nayoro/account/password/")
    walk.click("変更する")  # its error state: the rule's label once ended with a lone 「む)」
    walk.go("/nayoro/account/email/")
    page.locator("#id_current_password").fill("Nayoro#2026")
    page.get_by_label("新しいメールアドレス", exact=True).fill("taro.new@example.jp")
    page.get_by_label("新しいメールアドレス (確認用)").fill("taro.new@example.jp")
    walk.click("認証コードの送信")
    walk.go("/nayoro/account/withdraw/")
    page.locator("#id_current_password").fill("Nayoro#2026")
    walk.click("次へ")
    walk.click("退会する")


def test_every_resident_page_reads_at_every_width_and_passes_axe(
    page: Page, live_server, demo_data, daytime, mailoutbox
):
    Utility.objects.filter(slug="kanazawa").update(
        offers_web_slip=True,
        web_slip_text="お申し込みの翌月の検針分から、紙の検針票をお届けしません。",
    )
    walk = Walk(page, live_server.url)
    _information_pages(walk)
    _error_pages(walk)
    _kanazawa_signup(walk, mailoutbox)
    _nayoro_signup(walk, mailoutbox)
    _recoveries(walk, mailoutbox)
    _moving(walk, mailoutbox)
    _usage_and_profile(walk, mailoutbox)
    missing = _url_names() - walk.seen - NOT_PAGES
    assert not missing, f"pages no walk reaches yet: {sorted(missing)}"
    assert not walk.layout, "\n".join(walk.layout)


# The staff side as a utility's staff see it at 1280 px: every list, the member's own page.
STAFF_PAGES = [
    "accounts/member/",
    "accounts/contractrequest/",
    "accounts/loginlock/",
    "billing/customer/",
    "billing/meterreading/",
    "portal/utility/",
    "portal/outboxmail/",
    "billing/customer/import-csv/",
    "billing/meterreading/import-csv/",
    "billing/notice/",
    "billing/notice/add/",
    "billing/webslip/",
    "moving/moveapplication/",
    "moving/movingsettings/",
    "billing/issueddocument/",
]


def _import_jobs(utility) -> list[str]:
    """A finished dry run with errors and flagged lines, and one still reading: their pages."""
    from billing.models import ImportFile, ImportJob

    stored = ImportFile.objects.create(kind="readings", utility=utility, name="kenshin.csv")
    result = {
        "ok": False,
        "dry_run": True,
        "summary": "[検査のみ・書き込みなし] 120000 行: 追加 0 件、更新 0 件、変更なし 0 件、要確認 0 件",
        "error_count": 2,
        "errors": ["line 8: total: 水道料金と下水道使用料の合計(200)と一致しません。"] * 2,
        "more_errors": 0,
        "details": ["要確認(メーター一巡・交換)の行: 7, 12"],
    }
    done = ImportJob.objects.create(file=stored, state="done", result=result, rows_read=120000)
    running = ImportJob.objects.create(file=stored, state="running", rows_read=52000)
    return [f"billing/meterreading/import-csv/{job.pk}/" for job in (done, running)]


def _issued_invoice(contract: Customer):
    """An invoice issued for the contract's newest period, so 発行済みの書類 has a row."""
    from billing import documents
    from billing.models import IssuedDocument

    reading = contract.readings.order_by("-period_end").first()
    facts = documents.invoice_facts(contract.utility, contract, reading)
    return documents.issue(IssuedDocument.Kind.INVOICE, contract, reading.period_end, facts)


def _contract_requests(member: Member, staff: Member) -> None:
    """Fill 契約の追加申請 as residents do: one waiting (every item compared) and one approved
    (with who approved it and when), so every column of the list has a value."""
    from django.utils import timezone

    from accounts.models import ContractRequest
    from accounts.services.matching import match_contract

    linked = set(member.contracts.values_list("pk", flat=True))
    others = Customer.objects.filter(utility=member.utility).exclude(pk__in=linked)
    for customer, status in zip(others[:2], ["pending", "approved"], strict=True):
        typed = {
            "name": customer.name,
            "phone": customer.phone,
            "address": customer.address,
            "name_kana": customer.name_kana,
        }
        ContractRequest.objects.create(
            member=member,
            customer=customer,
            customer_number=customer.number,
            match=match_contract(member.utility, customer.number, **typed),
            status=status,
            reviewed_by=staff if status == "approved" else None,
            reviewed_at=timezone.now() if status == "approved" else None,
            **typed,
        )


def _move_applications(utility) -> list[str]:
    """A guest's move-out with its evidence and a move-in: the queue's rows and their pages."""
    import datetime as dt

    from accounts.services.matching import match_contract
    from moving.models import MoveApplication

    customer = Customer.objects.filter(utility=utility).last()
    typed = {"name": customer.name, "phone": "0120000000", "name_kana": customer.name_kana}
    common = {"utility": utility, "move_date": DEMO_DATE + dt.timedelta(days=20)}
    out = MoveApplication.objects.create(
        **common,
        kind="move_out",
        reference="20261201-000001",
        customer=customer,
        customer_number=customer.number,
        match=match_contract(utility, customer.number, address=customer.address, **typed),
        email="guest@example.jp",
        final_bill_address="石川県金沢市広坂1丁目1-1 コーポ広坂 201号室",
        payment="slip",
        **typed,
    )
    move_in = MoveApplication.objects.create(
        **common,
        kind="move_in",
        reference="20261201-000002",
        name="転入 花子",
        name_kana="テンニュウ ハナコ",
        phone="09011112222",
        email="newcomer@example.jp",
        address="石川県金沢市広坂1丁目1-1",
        building="コーポ広坂 202号室",
        payment="transfer",
        wants_membership=True,
    )
    return [f"moving/moveapplication/{a.pk}/change/" for a in (out, move_in)] + [
        f"moving/movingsettings/{utility.moving_settings.pk}/change/"
    ]


@pytest.mark.parametrize(
    ("login_id", "password"),
    [("kanazawa-staff", "Kanazawa-Staff-2026"), ("nayoro-staff", "Nayoro-Staff-2026")],
)
def test_the_staff_side_fits_1280_px_in_japanese(
    browser, live_server, demo_data, daytime, login_id, password
):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("ログインID").fill(login_id)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    # Japanese has no capitals: the login ID reads as typed, and so do 「(mm)」 and 「(m³)」.
    expect(page.locator("#user-tools")).to_contain_text(f"ようこそ {login_id} さん")
    member = Member.objects.filter(utility__slug=login_id.split("-")[0], is_staff=False).first()
    residents = Member.objects.filter(utility=member.utility, is_staff=False)
    longest = max(residents, key=lambda m: len(str(m)))  # the widest 会員 cell
    _contract_requests(longest, Member.objects.get(login_id=login_id))
    contracts = Customer.objects.filter(utility=member.utility)[:2]
    for contract, stopped in zip(contracts, [True, False], strict=True):  # Web明細's two states
        WebSlip.objects.create(customer=contract, paper_stopped=stopped, chosen_on=DEMO_DATE)
    document = _issued_invoice(contracts[0])
    paths = [
        *STAFF_PAGES,
        *_import_jobs(member.utility),
        *_move_applications(member.utility),
        f"accounts/member/{member.pk}/change/",
        f"billing/issueddocument/{document.pk}/change/",
    ]
    problems = []
    for path in paths:
        page.goto(f"{live_server.url}/admin/{path}")
        problems += [f"{path}: {p}" for p in layout_problems(page)]
        if SHOTS:
            shot = Path(SHOTS) / f"admin-{login_id}-{path.strip('/').replace('/', '-')}.png"
            page.screenshot(path=str(shot), full_page=True)
        for header in page.locator("thead th").all_inner_texts():
            assert header == header.replace("MM", "mm").replace("M³", "m³"), (path, header)
    assert not problems, "\n".join(problems)
    page.goto(f"{live_server.url}/admin/billing/customer/")
    expect(page.locator("#result_list thead")).to_contain_text("口径(mm)")
    page.goto(f"{live_server.url}/admin/accounts/member/{member.pk}/change/")
    history = page.locator("#events-group")
    expect(history.locator("td.original p").first).to_be_hidden()  # no UTC line with a code
    page.close()
