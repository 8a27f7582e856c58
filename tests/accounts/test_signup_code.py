"""Seed 003 ① to ⑨: signup by a 6-digit code in the mail, with the contract matched at 「登録」."""

from __future__ import annotations

import datetime
import logging
from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import ContractLink, EmailChallenge, Member, MemberEvent
from accounts.services import signup as services
from tests.factories import CustomerFactory, MemberFactory, UtilityFactory
from tests.helpers import (
    CODE_EMAIL,
    CODE_RE,
    REFUSED_FOR_GOOD,
    START,
    ask_for_code,
    enter_code,
    last_code,
    reach_code_details,
    refuse_mail,
    refuse_mail_for_good,
    send_waiting_mail,
    url,
)

pytestmark = pytest.mark.django_db

EMAIL = CODE_EMAIL
PASSWORD = "Nayoro#2025"
COOLDOWN = datetime.timedelta(seconds=61)


@pytest.fixture
def utility(db):
    return UtilityFactory(code_style=True, sender_email="noreply@mercurieportaltest.net")


@pytest.fixture
def contract(utility):
    return CustomerFactory(
        utility=utility, number="20000000001", name_kana="スイドウ タロウ", phone="0165412345"
    )


reach_details = reach_code_details


def details_for(customer, **overrides) -> dict:
    data = {
        "name": "水道太郎",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "customer_number": customer.number,
        "phone": customer.phone,
        "name_kana": customer.name_kana,
        "agree_terms": "on",
        "agree_privacy": "on",
        "relation": "self",
        "payment_method": "keep",
    }
    return {**data, **overrides}


def confirm(client, utility, customer, **overrides):
    response = client.post(url("signup_confirm", utility), details_for(customer, **overrides))
    assert response.status_code == HTTPStatus.OK
    return response


def register(client, utility, mailoutbox, customer, **overrides):
    """Walk ② to ⑦ and press 「登録」; return that response."""
    reach_details(client, utility, mailoutbox)
    assertContains(confirm(client, utility, customer, **overrides), "3/4")
    return client.post(url("signup_complete", utility))


# ① ② The entry and the address --------------------------------------------------------------


def test_login_page_first_time_link_opens_the_address_step(client, utility):
    login_page = client.get(url("login", utility))
    assertContains(login_page, "初めての方はこちら")
    assertContains(login_page, f'href="{url("signup", utility)}"')
    response = client.get(url("signup", utility))
    for words in [
        "1/4 メールアドレス登録",
        "会員登録にあたり、本人確認のためご指定のメールアドレス宛に認証コードを送信します。",
        "noreply@mercurieportaltest.netからのメールが受信できることをご確認ください。",
        "※認証コードの有効時間は30分です。",
        '<label for="id_email">メールアドレス</label>',
        "認証コードの送信",
        "戻る",
    ]:
        assertContains(response, words)
    assertNotContains(response, "メールアドレス (確認用)")
    assertContains(response, f'href="{url("login", utility)}"')


def test_a_bad_address_says_so_and_sends_nothing(client, utility, mailoutbox):
    response = ask_for_code(client, utility, "suido@")
    assertContains(response, "メールアドレスの形式が正しくありません。")
    assert mailoutbox == []
    assert not EmailChallenge.objects.exists()


# ③ The mail ----------------------------------------------------------------------------------


def test_the_mail_holds_a_code_stored_only_as_a_hash(client, utility, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    response = ask_for_code(client, utility, "ｓｕｉｄｏ＠ｅｘａｍｐｌｅ．ｊｐ")
    assertRedirects(response, url("signup_code", utility))
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [EMAIL]
    assert mail.subject == "検証コードのお知らせ"
    assert "noreply@mercurieportaltest.net" in mail.from_email
    assert f"「{utility.portal_name}」利用をご希望のお客様へ。" in mail.body
    assert "以下の検証コードをご入力ください。" in mail.body
    code = last_code(mailoutbox)
    challenge = EmailChallenge.objects.get()
    assert code not in challenge.secret_hash
    assert check_password(code, challenge.secret_hash)
    assert challenge.expires_at == START + datetime.timedelta(minutes=30)
    assert challenge.attempts_left == 5
    assert code not in str(dict(client.session.items()))


def test_codes_vary_and_keep_their_leading_zeros(client, utility, mailoutbox, monkeypatch):
    monkeypatch.setattr("accounts.tokens.secrets.randbelow", lambda n: 49415)
    ask_for_code(client, utility)
    assert last_code(mailoutbox) == "049415"


def test_a_members_address_gets_login_links_and_the_same_page(client, utility, mailoutbox):
    MemberFactory(utility=utility, login_id="", email="Suido@Example.jp")
    response = ask_for_code(client, utility)
    assertRedirects(response, url("signup_code", utility))
    body = mailoutbox[0].body
    assert "既に会員として登録されています" in body
    assert f"http://testserver{url('login', utility)}" in body
    assert f"http://testserver{url('recovery', utility)}" in body
    assert not CODE_RE.search(body)
    page = client.get(url("signup_code", utility))
    assertContains(page, "メールに記載された認証コードを入力してください。")


def test_a_members_address_refuses_every_code_like_any_other(client, utility, mailoutbox):
    MemberFactory(utility=utility, login_id="", email=EMAIL)
    ask_for_code(client, utility)
    for left in (4, 3, 2, 1):
        assertContains(enter_code(client, utility, "123456"), f"あと{left}回間違えると")
    assertContains(enter_code(client, utility, "123456"), "5回間違えたため")
    assert services.SIGNUP_SESSION_KEY not in client.session


def test_mail_server_down_is_accepted_and_the_code_arrives_later(
    client, utility, monkeypatch, mailoutbox
):
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        response = ask_for_code(client, utility)
    assertRedirects(response, url("signup_code", utility))
    assert not mailoutbox
    send_waiting_mail(minutes=1)  # within the code's 10 minutes
    response = enter_code(client, utility, last_code(mailoutbox))
    assertRedirects(response, url("signup_details", utility))


# ④ The code ----------------------------------------------------------------------------------


def test_the_code_step_shows_the_seed_words(client, utility, mailoutbox):
    ask_for_code(client, utility)
    response = client.get(url("signup_code", utility))
    for words in [
        "1/4 メールアドレス登録",
        EMAIL,
        "メールに記載された認証コードを入力してください。",
        '<label for="id_code">認証コード</label>',
        "次へ",
        "メールが届かない場合はこちら",
        "戻る",
    ]:
        assertContains(response, words)


def test_the_right_code_proves_the_address_once(client, utility, mailoutbox):
    ask_for_code(client, utility)
    code = last_code(mailoutbox)
    assertRedirects(enter_code(client, utility, code), url("signup_details", utility))
    assert EmailChallenge.objects.get().used_at is not None
    assert client.session[services.SIGNUP_SESSION_KEY]["email"] == EMAIL
    assert services.SIGNUP_CODE_SESSION_KEY not in client.session
    again = enter_code(client, utility, code)
    assertContains(again, "会員登録をやり直す", status_code=400)


def test_full_width_digits_and_spaces_in_the_code_are_accepted(client, utility, mailoutbox):
    ask_for_code(client, utility)
    code = last_code(mailoutbox)
    typed = " ".join(chr(ord(c) + 0xFEE0) for c in code)
    assertRedirects(enter_code(client, utility, typed), url("signup_details", utility))


def test_a_code_of_the_wrong_shape_costs_no_try(client, utility, mailoutbox):
    ask_for_code(client, utility)
    response = enter_code(client, utility, "12345")
    assertContains(response, "6桁の数字で入力してください。")
    assert EmailChallenge.objects.get().attempts_left == 5


def test_a_wrong_code_says_so_and_the_fifth_kills_it(client, utility, mailoutbox):
    ask_for_code(client, utility)
    code = last_code(mailoutbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = enter_code(client, utility, wrong)
    assertContains(response, "認証コードが正しくありません。")
    assertContains(response, "あと4回間違えると、この認証コードは使えなくなります。")
    for _ in range(4):
        response = enter_code(client, utility, wrong)
    assertContains(response, "認証コードを5回間違えたため、この認証コードは使えなくなりました。")
    assertContains(
        response, "「メールが届かない場合はこちら」から新しい認証コードを送信してください。"
    )
    # Now even the right code is refused: a new one must be sent.
    assertContains(enter_code(client, utility, code), "5回間違えたため")
    assert EmailChallenge.objects.get().attempts_left == 0
    assert services.SIGNUP_SESSION_KEY not in client.session


def test_the_code_lives_30_minutes(client, utility, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    ask_for_code(client, utility)
    code = last_code(mailoutbox)
    time_machine.move_to(START + datetime.timedelta(minutes=30, seconds=1), tick=False)
    response = enter_code(client, utility, code)
    assertContains(response, "認証コードの有効期限が切れています。")
    assert services.SIGNUP_SESSION_KEY not in client.session


def test_the_code_lives_as_long_as_the_utility_says(client, mailoutbox, time_machine):
    utility = UtilityFactory(code_style=True, code_ttl_minutes=10)
    time_machine.move_to(START, tick=False)
    ask_for_code(client, utility)
    assertContains(client.get(url("signup", utility)), "有効時間は10分です")
    code = last_code(mailoutbox)
    time_machine.move_to(START + datetime.timedelta(minutes=9, seconds=59), tick=False)
    assertRedirects(enter_code(client, utility, code), url("signup_details", utility))


def test_resend_waits_out_a_cooldown_then_kills_the_old_code(
    client, utility, mailoutbox, time_machine
):
    time_machine.move_to(START, tick=False)
    ask_for_code(client, utility)
    first = last_code(mailoutbox)
    too_soon = client.post(url("signup_code_resend", utility))
    assert too_soon.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assertContains(too_soon, "認証コードを送信したばかりです。60秒ほどたってから", status_code=429)
    assert len(mailoutbox) == 1
    time_machine.move_to(START + datetime.timedelta(seconds=45), tick=False)
    assertContains(client.post(url("signup_code_resend", utility)), "15秒ほど", status_code=429)

    time_machine.move_to(START + COOLDOWN, tick=False)
    response = client.post(url("signup_code_resend", utility), follow=True)
    assertContains(response, "認証コードを再送信しました。")
    assert len(mailoutbox) == 2
    second = last_code(mailoutbox)
    if first != second:  # the first code no longer works
        assertContains(enter_code(client, utility, first), "認証コードが正しくありません。")
    assert EmailChallenge.objects.order_by("pk").first().used_at is not None
    assertRedirects(enter_code(client, utility, second), url("signup_details", utility))


def test_the_cooldown_also_holds_on_the_address_step(client, utility, mailoutbox):
    ask_for_code(client, utility)
    response = ask_for_code(client, utility)
    assertContains(response, "認証コードを送信したばかりです。", status_code=429)
    assert len(mailoutbox) == 1


def test_code_mails_are_limited_per_address(client, utility, mailoutbox, time_machine, settings):
    # All at one instant: django-ratelimit's fixed windows start at a per-key offset, so
    # requests minutes apart could fall into two windows depending on the key.
    settings.PORTAL_SIGNUP_CODE_COOLDOWN_SECONDS = 0
    time_machine.move_to(START, tick=False)
    for _ in range(3):
        assert ask_for_code(client, utility).status_code == HTTPStatus.FOUND
    response = ask_for_code(client, utility)
    assertContains(response, "受付を一時的に止めています。", status_code=429)
    assert len(mailoutbox) == 3


def test_code_mails_are_limited_per_client(client, utility, mailoutbox, settings):
    settings.PORTAL_SIGNUP_MAIL_RATE_PER_IP = "2/h"
    for number in range(2):
        assert ask_for_code(client, utility, f"r{number}@example.jp").status_code == 302
    response = ask_for_code(client, utility, "r9@example.jp")
    assertContains(response, "受付を一時的に止めています。", status_code=429)


def test_code_entries_are_limited_per_client(client, utility, mailoutbox, settings):
    settings.PORTAL_SIGNUP_CODE_RATE_PER_IP = "3/h"
    ask_for_code(client, utility)
    for _ in range(3):
        enter_code(client, utility, "000000")
    response = enter_code(client, utility, last_code(mailoutbox))
    assertContains(response, "受付を一時的に止めています。", status_code=429)


def test_the_code_step_needs_a_code_sent_first(client, utility):
    response = client.get(url("signup_code", utility))
    assertContains(response, "会員登録をやり直す", status_code=400)


def test_codes_never_reach_the_log(client, utility, mailoutbox, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    ask_for_code(client, utility)
    code = last_code(mailoutbox)
    enter_code(client, utility, "000000" if code != "000000" else "111111")
    enter_code(client, utility, code)
    lines = [r.getMessage() for r in caplog.records if r.name == "accounts.audit"]
    assert any("event=signup_code_sent" in line for line in lines)
    assert any("event=signup_code_refused" in line for line in lines)
    assert any("event=signup_code_verified" in line for line in lines)
    assert not any(code in line for line in lines)


# ⑤ 2/4 会員情報入力 ---------------------------------------------------------------------------


def test_details_show_every_field_of_the_seed(client, utility, mailoutbox):
    reach_details(client, utility, mailoutbox)
    response = client.get(url("signup_details", utility))
    for words in [
        "2/4 会員情報入力",
        EMAIL,
        "お名前(ニックネームでも登録いただけます)",
        "お知らせの文面等に使用されます。ニックネームでの登録が可能です。",
        '<label for="id_password">パスワード</label>',
        "パスワードは必ず以下の4種類を含めたものとしてください。",
        "①半角英数字8文字以上",
        "②アルファベット大文字",
        "③アルファベット小文字",
        "④記号(例:!?#$&amp;()-_)",
        "※使用可能な記号は例示のものに限ります",
        "お客様番号",
        "上下水道料金のお知らせ(検針票)に記載の11桁のお客様番号をハイフン抜きで入力してください。",
        '<label for="id_phone">電話番号</label>',
        f"{utility.office_name}に届け出た電話番号の入力となりますので注意してください。",
        "お客様氏名カナ",
        f"{utility.office_name}に届け出た契約者名をカタカナで入力してください。",
        "<legend>利用規約",
        "<legend>個人情報の取り扱いについて",
        f'href="{reverse("portal:terms", args=[utility.slug])}"',
        f'href="{reverse("portal:privacy", args=[utility.slug])}"',
        "同意する",
        "申込者と契約者の関係",
        "申込者様と契約者様の関係を選択してください。",
        "本人",
        "家族",
        "その他",
        "支払方法",
        "アプリ決済に切り替えない",
        "キャンセル",
        "確認",
    ]:
        assertContains(response, words)
    assertContains(response, 'id="id_relation_0" required checked')
    for words in ["ログインID", 'name="email"', "秘密の質問", "住所(市町村名・番地)"]:
        assertNotContains(response, words)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "お名前を入力してください。"),
        ({"name": "水" * 41}, "name", "お名前は40文字以内で入力してください。"),
        ({"customer_number": "2000000001"}, "customer_number", "お客様番号は半角数字11桁"),
        ({"phone": "1234"}, "phone", "電話番号は市外局番から10〜11桁"),
        ({"name_kana": "水道太郎"}, "name_kana", "お客様氏名カナはカタカナで入力してください"),
        ({"name_kana": ""}, "name_kana", "お客様氏名カナを入力してください。"),
        ({"agree_terms": ""}, "agree_terms", "利用規約をご一読の上、「同意する」にチェック"),
        (
            {"agree_privacy": ""},
            "agree_privacy",
            "個人情報の取り扱いについてをご一読の上、「同意する」にチェック",
        ),
        ({"relation": ""}, "relation", "申込者と契約者の関係を選んでください。"),
        ({"relation": "boss"}, "relation", "正しく選択してください"),
        ({"payment_method": ""}, "payment_method", "支払方法を選んでください。"),
        (
            {"password": "Nayoro2025", "password_confirm": "Nayoro2025"},
            "password",
            "記号(!?#$&()-_)を含めてください",
        ),
        (
            {"password": "Nayoro@2025", "password_confirm": "Nayoro@2025"},
            "password",
            "使用できる記号は !?#$&()-_ のみです",
        ),
        (
            {"password": "nayoro#2025", "password_confirm": "nayoro#2025"},
            "password",
            "アルファベット大文字を含めてください",
        ),
        ({"password": "Ny#2025", "password_confirm": "Ny#2025"}, "password", "8文字以上"),
        (
            {"password_confirm": "Nayoro#2026"},
            "password_confirm",
            "パスワードとパスワード(確認用)が一致しません。",
        ),
    ],
)
def test_details_say_what_to_fix_next_to_the_field(
    client, utility, mailoutbox, contract, overrides, field, message
):
    reach_details(client, utility, mailoutbox)
    response = client.post(url("signup_confirm", utility), details_for(contract, **overrides))
    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assertContains(response, "2/4 会員情報入力")


def test_details_without_a_proven_address_say_to_start_again(client, utility):
    response = client.get(url("signup_details", utility))
    assertContains(response, "会員登録をやり直す", status_code=400)


# ⑥ ⑦ 3/4 and 「登録」 ---------------------------------------------------------------------------


def test_confirmation_shows_everything_with_the_password_masked(
    client, utility, mailoutbox, contract
):
    reach_details(client, utility, mailoutbox)
    response = confirm(client, utility, contract, name_kana="すいどう　たろう")
    for words in [
        "3/4",
        EMAIL,
        "水道太郎",
        "********",
        "20000000001",
        "0165412345",
        "スイドウ タロウ",
        "同意する",
        "本人",
        "アプリ決済に切り替えない",
        "訂正",
        "登録",
    ]:
        assertContains(response, words)
    assertNotContains(response, PASSWORD)
    assert PASSWORD not in str(dict(client.session.items()))


def test_a_full_match_makes_an_active_linked_member_at_once(client, utility, mailoutbox, contract):
    response = register(
        client,
        utility,
        mailoutbox,
        contract,
        customer_number="２００００－０００００１",
        phone="01654-1-2345",
        name_kana="ｽｲﾄﾞｳ ﾀﾛｳ",
        relation="family",
        payment_method="switch",
    )
    assertRedirects(response, url("signup_done", utility))
    member = Member.objects.get(utility=utility, email=EMAIL)
    assert member.status == Member.Status.ACTIVE
    assert member.login_id == ""
    assert member.name == "水道太郎"
    assert member.name_kana == "スイドウ タロウ"
    assert member.phone == "0165412345"
    assert (member.relation, member.payment_method) == ("family", "switch")
    assert member.check_password(PASSWORD)
    link = ContractLink.objects.get(member=member)
    assert link.customer == contract and link.approved_by is None
    signup = MemberEvent.objects.get(member=member, action="signup")
    assert signup.detail["consents"] == ["agree_terms", "agree_privacy"]
    for key in (services.SIGNUP_SESSION_KEY, services.SIGNUP_DETAILS_SESSION_KEY):
        assert key not in client.session


def test_the_done_page_and_the_login_with_the_email(client, utility, mailoutbox, contract):
    register(client, utility, mailoutbox, contract)
    page = client.get(url("signup_done", utility))
    for words in [
        "4/4 会員登録完了",
        "登録処理が完了しました。",
        utility.data_delay_note,
        "ポータルを利用する",
    ]:
        assertContains(page, words)
    assertContains(page, f'href="{url("login", utility)}"')
    mail = mailoutbox[-1]
    assert mail.subject == f"【{utility.portal_name}】会員登録が完了しました"
    assert "メールアドレスとパスワードで" in mail.body
    login = client.post(url("login", utility), {"identifier": EMAIL, "password": PASSWORD})
    assertRedirects(login, reverse("billing:dashboard", args=[utility.slug]))


def test_an_unknown_number_is_refused_with_the_seed_message(client, utility, mailoutbox, contract):
    response = register(client, utility, mailoutbox, contract, customer_number="29999999999")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assertContains(
        response, "該当する契約が見つかりませんでした。入力内容をご確認ください。", status_code=422
    )
    assertContains(response, "<li>・お客様番号が存在しません。</li>", status_code=422)
    assertNotContains(response, "電話番号が一致しません", status_code=422)
    assertContains(response, "29999999999", status_code=422)
    assertContains(response, "訂正", status_code=422)
    assert not Member.objects.filter(email=EMAIL).exists()
    assert len(mailoutbox) == 1  # the code only


def test_a_number_of_another_utility_does_not_exist_here(client, utility, mailoutbox):
    elsewhere = CustomerFactory(utility=UtilityFactory(code_style=True), number="20000000009")
    response = register(client, utility, mailoutbox, elsewhere)
    assertContains(response, "・お客様番号が存在しません。", status_code=422)


@pytest.mark.parametrize(
    "wrong",
    [
        {"name_kana": "スズキ タロウ"},
        {"phone": "0165499999"},
        {"phone": "0165499999", "name_kana": "スイドウ ハナコ"},
    ],
    ids=["kana", "phone", "both"],
)
def test_a_mismatch_never_tells_which_of_phone_and_kana_was_wrong(
    client, utility, mailoutbox, contract, wrong
):
    """Finding 2 (issue 15 review): naming only the kana confirmed that the typed phone
    belongs to that customer number. Every mismatch on a known number reads the same."""
    response = register(client, utility, mailoutbox, contract, **wrong)
    assertContains(
        response, "該当する契約が見つかりませんでした。入力内容をご確認ください。", status_code=422
    )
    assertContains(
        response,
        f"<li>・電話番号またはお客様氏名カナが、{utility.office_name}に届け出た内容と"
        "一致しません。</li>",
        status_code=422,
    )
    for leak in (
        "電話番号が一致しません",
        "お客様氏名カナが一致しません",
        "お客様番号が存在しません",
    ):
        assertNotContains(response, leak, status_code=422)
    assert not Member.objects.exists()


def test_訂正_goes_back_with_every_value_kept_and_then_succeeds(
    client, utility, mailoutbox, contract
):
    register(client, utility, mailoutbox, contract, customer_number="29999999999")
    back = client.post(url("signup_back", utility))
    assertContains(back, "2/4 会員情報入力")
    for value in [
        'value="水道太郎"',
        'value="29999999999"',
        'value="0165412345"',
        'value="スイドウ タロウ"',
        'id="id_agree_terms" checked',
        'id="id_agree_privacy" checked',
        'value="self" id="id_relation_0" required checked',
        'value="keep" id="id_payment_method_0" required checked',
    ]:
        assertContains(back, value)
    assertNotContains(back, PASSWORD)
    confirm(client, utility, contract)
    response = client.post(url("signup_complete", utility))
    assertRedirects(response, url("signup_done", utility))
    assert Member.objects.get(email=EMAIL).is_active


def test_five_refused_registrations_mean_starting_again(client, utility, mailoutbox, contract):
    reach_details(client, utility, mailoutbox)
    confirm(client, utility, contract, customer_number="29999999999")
    for _ in range(4):
        response = client.post(url("signup_complete", utility))
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    response = client.post(url("signup_complete", utility))
    assertContains(response, "入力内容が契約と一致しない状態が続いたため", status_code=400)
    assertContains(response, utility.contact_block.splitlines()[0], status_code=400)
    assert services.SIGNUP_SESSION_KEY not in client.session
    assertContains(client.get(url("signup_details", utility)), "やり直す", status_code=400)
    assert not Member.objects.exists()


def test_pressing_登録_twice_makes_one_member_and_one_mail(client, utility, mailoutbox, contract):
    register(client, utility, mailoutbox, contract)
    again = client.post(url("signup_complete", utility))
    assertContains(again, "会員登録をやり直す", status_code=400)
    assert Member.objects.filter(email=EMAIL).count() == 1
    assert ContractLink.objects.count() == 1
    assert len(mailoutbox) == 2


def test_an_address_registered_meanwhile_is_told_at_登録(client, utility, mailoutbox, contract):
    reach_details(client, utility, mailoutbox)
    confirm(client, utility, contract)
    MemberFactory(utility=utility, login_id="", email=EMAIL)
    response = client.post(url("signup_complete", utility))
    assertContains(response, "既に会員として登録されています", status_code=409)
    assertContains(response, "2/4 会員情報入力", status_code=409)


def test_completion_mail_failure_keeps_the_active_member(
    client, utility, mailoutbox, contract, monkeypatch
):
    reach_details(client, utility, mailoutbox)
    confirm(client, utility, contract)
    refuse_mail_for_good(monkeypatch)
    response = client.post(url("signup_complete", utility))
    assertRedirects(response, url("signup_done", utility))
    member = Member.objects.get(email=EMAIL)
    assert member.is_active
    event = MemberEvent.objects.get(member=member, action="mail_failed")
    assert event.detail["reply"] == REFUSED_FOR_GOOD
