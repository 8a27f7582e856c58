"""Seed 003 in a real browser: ① to ⑨ with the code from the mail, the 「訂正」 round trip, axe."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from accounts.models import Member
from billing.models import Customer

EMAIL = "shinki@example.jp"
PASSWORD = "Nayoro#2027"
CODE_RE = re.compile(r"検証コード: (\d{6})")


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def test_nayoro_resident_signs_up_by_code_corrects_the_number_and_logs_in(
    page: Page, live_server, demo_data, daytime, mailoutbox
):
    contract = Customer.objects.get(utility__slug="nayoro", number="20000000001")
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # ① 「初めての方はこちら」 on the login page.
    page.goto(f"{live_server.url}/nayoro/")
    page.get_by_role("link", name="初めての方はこちら").click()

    # ② 「1/4 メールアドレス登録」 with the note about the sender.
    expect(page.get_by_role("heading", level=1)).to_have_text("1/4 メールアドレス登録")
    expect(page.get_by_text("noreply@mercurieportaltest.netからのメールが")).to_be_visible()
    expect(page.get_by_role("link", name="戻る")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("メールアドレス").fill(EMAIL)
    page.get_by_role("button", name="認証コードの送信").click()

    # ③ The mail 「検証コードのお知らせ」.
    expect(page.get_by_label("認証コード")).to_be_visible()
    mail = mailoutbox[-1]
    assert mail.to == [EMAIL]
    assert mail.subject == "検証コードのお知らせ"
    code = CODE_RE.search(mail.body).group(1)

    # ④ The code on the same step; a wrong one first.
    expect(page.get_by_text("メールに記載された認証コードを入力してください。")).to_be_visible()
    expect(page.get_by_role("button", name="メールが届かない場合はこちら")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("認証コード").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_text("認証コードが正しくありません。")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("認証コード").fill(full_width(code))
    page.get_by_role("button", name="次へ").click()

    # ⑤ 「2/4 会員情報入力」, typed as on a phone, with a wrong customer number.
    expect(page.get_by_role("heading", level=1)).to_have_text("2/4 会員情報入力")
    expect(page.get_by_text(EMAIL)).to_be_visible()
    expect(
        page.get_by_text("パスワードは必ず以下の4種類を含めたものとしてください。")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_label("お名前(ニックネームでも登録いただけます)").fill("すいちゃん")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_label("パスワード(確認用)").fill(PASSWORD)
    page.get_by_label("お客様番号").fill("2999-999-9999")
    page.get_by_label("電話番号").fill(f"{contract.phone[:5]}-{contract.phone[5:]}")
    page.get_by_label("お客様氏名カナ").fill("すいどう　たろう")
    page.get_by_role("group", name="利用規約").get_by_label("同意する").check()
    page.get_by_role("group", name="個人情報の取り扱いについて").get_by_label("同意する").check()
    expect(page.get_by_role("radio", name="本人")).to_be_checked()
    page.get_by_role("radio", name="アプリ決済に切り替えない").check()
    page.get_by_role("button", name="確認").click()

    # ⑥ ⑦ 「3/4」, then 「登録」: the number does not exist.
    expect(page.get_by_role("heading", level=1)).to_contain_text("3/4")
    expect(page.get_by_text("********")).to_be_visible()
    expect(page.get_by_text("スイドウ タロウ")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="登録", exact=True).click()
    expect(
        page.get_by_text("該当する契約が見つかりませんでした。入力内容をご確認ください。")
    ).to_be_visible()
    expect(page.get_by_text("・お客様番号が存在しません。")).to_be_visible()
    assert_accessible(page)

    # 「訂正」 back to ⑤ with every value kept; fix the number, type the password again.
    page.get_by_role("button", name="訂正").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2/4 会員情報入力")
    expect(page.get_by_label("お名前(ニックネームでも登録いただけます)")).to_have_value(
        "すいちゃん"
    )
    expect(page.get_by_label("お客様番号")).to_have_value("29999999999")
    expect(page.get_by_label("電話番号")).to_have_value(contract.phone)
    expect(page.get_by_label("お客様氏名カナ")).to_have_value("スイドウ タロウ")
    expect(page.get_by_role("group", name="利用規約").get_by_label("同意する")).to_be_checked()
    expect(page.get_by_role("radio", name="本人")).to_be_checked()
    page.get_by_label("お客様番号").fill(full_width(contract.number))
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_label("パスワード(確認用)").fill(PASSWORD)
    page.get_by_role("button", name="確認").click()
    page.get_by_role("button", name="登録", exact=True).click()

    # ⑧ 「4/4 会員登録完了」.
    expect(page.get_by_role("heading", level=1)).to_have_text("4/4 会員登録完了")
    expect(page.get_by_text("登録処理が完了しました。")).to_be_visible()
    expect(page.get_by_text("使用量や料金の照会ができるのは1営業日後になります。")).to_be_visible()
    assert_accessible(page)
    member = Member.objects.get(utility__slug="nayoro", email=EMAIL)
    assert member.is_active and list(member.contracts.all()) == [contract]
    page.get_by_role("link", name="ポータルを利用する").click()

    # ⑨ Login with the address and the password.
    expect(page).to_have_url(re.compile(r"/nayoro/$"))
    page.get_by_label("メールアドレス").fill(EMAIL)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/nayoro/usage/$"))
    expect(page.get_by_text(contract.number).first).to_be_visible()
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_a_registered_address_sees_the_same_code_step(
    page: Page, live_server, demo_data, daytime, mailoutbox
):
    page.goto(f"{live_server.url}/nayoro/signup/")
    page.get_by_label("メールアドレス").fill("taro@example.jp")
    page.get_by_role("button", name="認証コードの送信").click()
    expect(page.get_by_label("認証コード")).to_be_visible()
    assert "既に会員として登録されています" in mailoutbox[-1].body
    page.get_by_role("button", name="メールが届かない場合はこちら").click()
    expect(page.get_by_text("認証コードを送信したばかりです。")).to_be_visible()
    assert_accessible(page)


def test_the_password_field_shows_and_hides_what_was_typed(
    page: Page, live_server, demo_data, daytime
):
    """Seed 003's eye icon beside パスワード, as a button a keyboard reaches."""
    page.goto(f"{live_server.url}/nayoro/")
    field = page.get_by_label("パスワード", exact=True)
    field.fill("Nayoro#2026")
    page.get_by_role("button", name="入力した文字を表示する").click()
    expect(field).to_have_attribute("type", "text")
    hide = page.get_by_role("button", name="入力した文字を隠す")
    expect(hide).to_have_attribute("aria-pressed", "true")
    hide.focus()
    page.keyboard.press("Enter")
    expect(field).to_have_attribute("type", "password")
    expect(field).to_have_value("Nayoro#2026")
