"""Both recovery paths in a real browser, axe on every step, ending in a login with the new password."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

LINK_RE = re.compile(r"https?://\S+/recovery/link/\S+/")
CODE_RE = re.compile(r"認証コード: (\d{6})")


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_kanazawa_resident_recovers_with_the_secret_question(
    page: Page, live_server, demo_data, daytime, mailoutbox
):
    page.goto(f"{live_server.url}/kanazawa/")
    page.get_by_role("link", name="ログインID/パスワードを忘れた方はこちら").click()

    # The registered address and the ポータル登録番号, typed as on a phone.
    expect(page.get_by_role("heading", level=1)).to_have_text("ログインID/パスワードを忘れた方")
    assert_accessible(page)
    page.get_by_label("ご登録のメールアドレス").fill("taro@example.jp")
    page.get_by_label("ポータル登録番号").fill("１００００００００００００１")
    page.get_by_role("button", name="次へ").click()

    # The secret question; a wrong answer first, then the right one in hiragana.
    expect(page.get_by_text("あなたの一番好きな食べ物は何?")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("回答").fill("りんご")
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_text("回答が正しくありません。あと4回")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("回答").fill("ばなな")
    page.get_by_role("button", name="次へ").click()

    # Nothing on screen; the mail holds the login ID and the link.
    expect(page.get_by_role("heading", level=1)).to_have_text("メール送信完了")
    expect(page.get_by_text("suidotaro")).to_have_count(0)
    assert_accessible(page)
    mail = mailoutbox[-1]
    assert mail.to == ["taro@example.jp"]
    assert "ログインID: suidotaro" in mail.body
    page.goto(LINK_RE.search(mail.body).group(0))
    expect(page).to_have_url(re.compile(r"/kanazawa/recovery/password/$"))

    # The new password, with the utility's rule enforced first.
    assert_accessible(page)
    page.locator("#id_password").fill("Kanazawa!")
    page.get_by_label("新しいパスワード(確認用)").fill("Kanazawa!")
    page.get_by_role("button", name="設定する").click()
    expect(page.get_by_text("半角の小文字英字と数字")).to_be_visible()
    assert_accessible(page)
    page.locator("#id_password").fill("kanazawa2027")
    page.get_by_label("新しいパスワード(確認用)").fill("kanazawa2027")
    page.get_by_role("button", name="設定する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("パスワードを再設定しました")
    assert_accessible(page)
    assert mailoutbox[-1].subject == "【金沢市上下水道ポータルサイト】パスワード変更のお知らせ"

    page.get_by_role("link", name="ログイン画面へ").click()
    page.get_by_label("ログインID").fill("suidotaro")
    page.get_by_label("パスワード").fill("kanazawa2027")
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/kanazawa/usage/$"))


def test_nayoro_resident_resets_the_password_with_a_code(
    page: Page, live_server, demo_data, daytime, mailoutbox
):
    page.goto(f"{live_server.url}/nayoro/")
    page.get_by_role("link", name="パスワードを忘れた場合はこちら").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("パスワードの再設定")
    assert_accessible(page)
    page.get_by_label("メールアドレス").fill("taro@example.jp")
    page.get_by_role("button", name="認証コードの送信").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("認証コードの入力")
    assert_accessible(page)
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    page.get_by_label("認証コード").fill(code)
    page.get_by_role("button", name="次へ").click()

    expect(page).to_have_url(re.compile(r"/nayoro/recovery/password/$"))
    assert_accessible(page)
    page.locator("#id_password").fill("Nayoro#2027")
    page.get_by_label("新しいパスワード(確認用)").fill("Nayoro#2027")
    page.get_by_role("button", name="設定する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("パスワードを再設定しました")
    assert_accessible(page)

    page.get_by_role("link", name="ログイン画面へ").click()
    page.get_by_label("メールアドレス").fill("taro@example.jp")
    page.get_by_label("パスワード").fill("Nayoro#2027")
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/nayoro/usage/$"))


def test_account_settings_pages_are_accessible(page: Page, live_server, demo_data, daytime):
    page.goto(f"{live_server.url}/kanazawa/")
    page.get_by_label("ログインID").fill("suidotaro")
    page.get_by_label("パスワード").fill("kanazawa2026")
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="会員情報").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("会員情報")
    assert_accessible(page)
    for path in [
        "account/email/",
        "account/password/",
        "account/secret-question/",
        "account/tax/",
        "account/contracts/add/",
        "account/withdraw/",
    ]:
        page.goto(f"{live_server.url}/kanazawa/{path}")
        assert_accessible(page)
