"""Seed 000 in a real browser: ② to ⑧ with the real mail, staff approval in the admin, login."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from playwright.sync_api import Browser, Page, expect

from billing.models import Customer

EMAIL = "shinki@example.jp"
LOGIN_ID = "mizukanazawa1"
PASSWORD = "kanazawa2027"
LINK_RE = re.compile(r"https?://\S+/signup/link/\S+/")


def full_width(digits: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in digits)


def test_kanazawa_resident_signs_up_by_link_and_staff_approve(
    page: Page, browser: Browser, live_server, demo_data, daytime, mailoutbox
):
    contract = Customer.objects.get(utility__slug="kanazawa", number="10000000000001")

    # ② 「会員登録する」 on the login page.
    page.goto(f"{live_server.url}/kanazawa/")
    page.get_by_role("link", name="会員登録する").click()

    # ③ Terms in a box, the two addresses, the consent, 「メールを送信する」.
    expect(page.get_by_role("heading", level=1)).to_have_text("メールアドレスの入力")
    expect(page.get_by_role("region", name="金沢市上下水道ポータルサイト利用規約")).to_be_visible()
    page.get_by_label("メールアドレス", exact=True).fill(EMAIL)
    page.get_by_label("メールアドレス (確認用)").fill(EMAIL)
    page.get_by_label("ご利用規約に同意する").check()
    page.get_by_role("button", name="メールを送信する").click()

    # ④ 「メール送信完了」 naming the sender's domain.
    expect(page.get_by_role("heading", level=1)).to_have_text("メール送信完了")
    expect(page.get_by_text("(@ep-r.jp)")).to_be_visible()

    # ⑤ The mail holds the signup URL; opening it leads to a page without the token.
    assert mailoutbox[-1].to == [EMAIL]
    assert mailoutbox[-1].subject == "【金沢市上下水道ポータルサイト】会員登録用URLのお知らせ"
    link = LINK_RE.search(mailoutbox[-1].body).group(0)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/kanazawa/signup/details/$"))

    # ⑥ お客さま情報の入力 and ログイン情報の入力, typed as a resident would on a phone.
    expect(page.get_by_role("heading", name="お客さま情報の入力")).to_be_visible()
    expect(page.get_by_role("heading", name="ログイン情報の入力")).to_be_visible()
    page.get_by_label("ポータル登録番号").fill(full_width(contract.number))
    page.get_by_label("お客さま名").fill("水道　太郎")
    page.get_by_label("住所(市町村名・番地)").fill(contract.address)
    page.get_by_label("建物名・アパート名・部屋番号").fill(contract.building)
    page.get_by_label("連絡先電話番号").fill(f"{contract.phone[:3]}-{contract.phone[3:]}")
    page.get_by_label("ご希望のログインID").fill(LOGIN_ID)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_label("ご希望のパスワード(確認用)").fill(PASSWORD)
    page.get_by_role("group", name="秘密の質問と回答").get_by_label("質問").select_option(
        label="あなたの一番好きな食べ物は何?"
    )
    page.get_by_label("回答").fill("バナナ")
    page.get_by_label("消費税申告の有無").select_option(label="無")
    page.get_by_label("金沢市上下水道ポータルサイトを知ったきっかけ").select_option(label="検針票")
    page.get_by_role("button", name="入力内容を確認する").click()

    # ⑦ Everything shown back, password masked; back to the form and forward again.
    expect(page.get_by_role("heading", level=1)).to_have_text("お客さま情報の確認")
    expect(page.get_by_text("********")).to_be_visible()
    expect(page.get_by_text("バナナ")).to_be_visible()
    expect(page.get_by_text(PASSWORD)).to_have_count(0)
    page.get_by_role("button", name="入力画面に戻る").click()
    expect(page.get_by_label("ご希望のログインID")).to_have_value(LOGIN_ID)
    # The answer stays (「入力済み」) without coming back into the page; the passwords go.
    expect(page.get_by_label("回答")).to_have_value("")
    expect(page.get_by_text("回答は入力済みです")).to_be_visible()
    assert "バナナ" not in page.content()
    expect(page.locator("#id_password")).to_have_value("")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_label("ご希望のパスワード(確認用)").fill(PASSWORD)
    page.get_by_role("button", name="入力内容を確認する").click()
    page.get_by_role("button", name="本会員申請する").click()

    # ⑧ The completion page and mail.
    expect(page.get_by_role("heading", level=1)).to_have_text("会員登録が完了しました")
    expect(page.get_by_text("数日（受付が混み合っている場合は10日程度）")).to_be_visible()
    assert mailoutbox[-1].subject == "★【金沢市上下水道ポータルサイト】会員登録が完了しました"
    assert "金沢市企業局お客さまサービス課料金センター" in mailoutbox[-1].body

    # Not yet: the login page says why.
    page.goto(f"{live_server.url}/kanazawa/")
    page.get_by_label("ログインID").fill(LOGIN_ID)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_text("現在、登録内容を確認中です。")).to_be_visible()

    # Staff approve in the admin.
    staff = browser.new_page(locale="ja-JP")
    staff.goto(f"{live_server.url}/admin/")
    staff.get_by_label("ログインID").fill("kanazawa-staff")
    staff.get_by_label("パスワード").fill("Kanazawa-Staff-2026")
    staff.get_by_role("button", name="ログイン").click()
    staff.goto(f"{live_server.url}/admin/accounts/member/")
    row = staff.locator("#result_list tbody tr", has_text=LOGIN_ID)
    expect(row).to_contain_text(LOGIN_ID)
    expect(row).to_contain_text("番号○ 氏名○ 電話○ 住所○")
    row.get_by_role("checkbox").check()
    staff.locator("select[name=action]").select_option(label="承認")
    staff.get_by_role("button", name="実行").click()
    # A confirmation page lists the member with the evidence, ticked since all of it matches.
    expect(staff.get_by_role("heading", name="承認の確認")).to_be_visible()
    expect(staff.get_by_role("checkbox", name=LOGIN_ID)).to_be_checked()
    staff.get_by_role("button", name="チェックを入れた会員を承認する").click()
    expect(staff.locator(".messagelist")).to_contain_text("承認しました")
    staff.close()

    # The guide mail arrives with the login URL, and the resident logs in.
    guide = mailoutbox[-1]
    assert guide.to == [EMAIL]
    assert guide.subject == "【金沢市上下水道ポータルサイト】ご使用量等の確認についてのご案内"
    login_url = re.search(r"https?://\S+/kanazawa/", guide.body).group(0)
    page.goto(login_url)
    assert urlparse(page.url).path == "/kanazawa/"
    page.get_by_label("ログインID").fill(LOGIN_ID)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/kanazawa/usage/$"))
    expect(page.get_by_text("10000000000001").first).to_be_visible()
