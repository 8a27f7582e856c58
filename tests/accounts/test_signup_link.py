"""Seed 000 ② to ⑧: signup by a one-time URL in the mail, for utilities with verification "link"."""

from __future__ import annotations

import datetime
import re
import threading
from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection, connections
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import EmailChallenge, Member, MemberEvent
from accounts.services import signup as services
from tests.factories import MemberFactory, UtilityFactory
from tests.helpers import (
    EMAIL,
    REFUSED_FOR_GOOD,
    START,
    ask_for_link,
    details_for,
    kanazawa_contract,
    last_signup_link,
    reach_details,
    refuse_mail,
    refuse_mail_for_good,
    send_waiting_mail,
    sign_up,
    url,
)

pytestmark = pytest.mark.django_db

LINK_RE = re.compile(r"https?://\S+/signup/link/\S+/")


@pytest.fixture
def contract(utility):
    return kanazawa_contract(utility)


# ② ③ The entry and the email step -----------------------------------------------------------


def test_login_page_button_opens_the_email_step_with_the_terms(client, utility):
    login_page = client.get(url("login", utility))
    assertContains(login_page, f'href="{url("signup", utility)}"')
    response = client.get(url("signup", utility))
    for words in [
        "メールアドレスの入力",
        '<label for="id_email">メールアドレス</label>',
        '<label for="id_email_confirm">メールアドレス (確認用)</label>',
        '<label for="id_agree_terms">ご利用規約に同意する</label>',
        "必須",
        "ご利用規約",
        "本規約は本サービスの利用に適用されます。",
        "メールを送信する",
    ]:
        assertContains(response, words)
    assertContains(response, 'class="terms-box"')


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"agree_terms": ""}, "agree_terms", "「ご利用規約に同意する」をチェックしてください。"),
        (
            {"email_confirm": "jiro@example.jp"},
            "email_confirm",
            "メールアドレスとメールアドレス (確認用) が一致しません。",
        ),
        (
            {"email": "taro@", "email_confirm": "taro@"},
            "email",
            "メールアドレスの形式が正しくありません。",
        ),
    ],
)
def test_email_step_says_what_to_fix(client, utility, mailoutbox, overrides, field, message):
    response = ask_for_link(client, utility, **overrides)
    assert response.status_code == HTTPStatus.OK
    assert message in response.context["form"].errors[field][0]
    assertContains(response, message)
    assert mailoutbox == []
    assert not EmailChallenge.objects.exists()


def test_full_width_address_is_accepted_as_typed_on_a_phone(client, utility, mailoutbox):
    response = ask_for_link(
        client, utility, "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", email_confirm="taro@example.jp"
    )
    assertRedirects(response, url("signup_sent", utility))
    assert mailoutbox[0].to == ["taro@example.jp"]


# ④ ⑤ The sent page and the mail -----------------------------------------------------------


def test_sent_page_and_mail_with_a_one_time_url(client, utility, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    response = ask_for_link(client, utility)
    assertRedirects(response, url("signup_sent", utility))
    page = client.get(url("signup_sent", utility))
    assertContains(page, "メール送信完了")
    assertContains(page, "(@city.example.jp)")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [EMAIL]
    assert mail.subject == f"【{utility.portal_name}】会員登録用URLのお知らせ"
    assert "noreply@city.example.jp" in mail.from_email
    assert utility.contact_block in mail.body
    challenge = EmailChallenge.objects.get()
    token = last_signup_link(mailoutbox).rstrip("/").rsplit("/", 1)[1]
    assert token not in challenge.secret_hash
    assert challenge.expires_at == START + datetime.timedelta(hours=24)


def test_existing_address_sees_the_same_page_and_gets_login_links(client, utility, mailoutbox):
    MemberFactory(utility=utility, email="Taro@Example.jp")
    response = ask_for_link(client, utility)
    assertRedirects(response, url("signup_sent", utility))
    assert not EmailChallenge.objects.exists()
    body = mailoutbox[0].body
    assert "既に会員として登録されています" in body
    assert f"http://testserver{url('login', utility)}" in body
    assert f"http://testserver{url('recovery', utility)}" in body
    assert not LINK_RE.search(body)


def test_mail_server_down_at_the_email_step_is_accepted_and_the_link_arrives_later(
    client, utility, monkeypatch, mailoutbox
):
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        response = ask_for_link(client, utility)
    # The resident is told what is true: the mail is accepted and will arrive.
    assertRedirects(response, url("signup_sent", utility))
    assert not mailoutbox
    send_waiting_mail()  # the server is back; the sweep sends what waited
    response = client.get(last_signup_link(mailoutbox))
    assertRedirects(response, url("signup_details", utility))


def test_opening_the_link_keeps_the_token_out_of_the_page_address(client, utility, mailoutbox):
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    response = client.get(link)
    assertRedirects(response, url("signup_details", utility))
    assert EmailChallenge.objects.get().used_at is None


def test_a_prefetch_by_a_mail_scanner_uses_nothing_up(client, utility, mailoutbox, contract):
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    Client().get(link, follow=True)  # the scanner, in its own session
    client.get(link)
    response = client.post(url("signup_confirm", utility), details_for(contract))
    assertContains(response, "お客さま情報の確認")


def test_a_used_link_gets_a_page_to_start_again(client, utility, mailoutbox, contract):
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    client.get(link)
    client.post(url("signup_confirm", utility), details_for(contract))
    other = Client()
    response = other.get(link, follow=True)
    assertContains(response, "この会員登録用URLは、既に使われたか", status_code=400)
    assertContains(response, url("signup", utility), status_code=400)


def test_the_same_browser_may_open_the_mail_again_mid_signup(client, utility, mailoutbox, contract):
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    client.get(link)
    client.post(url("signup_confirm", utility), details_for(contract))
    response = client.get(link, follow=True)
    assertContains(response, "お客さま情報の入力")


def test_an_expired_link_gets_a_page_to_start_again(client, utility, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    time_machine.move_to(START + datetime.timedelta(hours=24, seconds=1), tick=False)
    response = client.get(link, follow=True)
    assertContains(response, "会員登録用URLの有効期限が切れています。", status_code=400)
    assertContains(response, "会員登録をやり直す", status_code=400)


def test_the_link_lives_as_long_as_the_utility_says(client, mailoutbox, time_machine):
    utility = UtilityFactory(signup_link_ttl_hours=2)
    time_machine.move_to(START, tick=False)
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    time_machine.move_to(START + datetime.timedelta(hours=1, minutes=59), tick=False)
    assertContains(client.get(link, follow=True), "お客さま情報の入力")
    time_machine.move_to(START + datetime.timedelta(hours=2, seconds=1), tick=False)
    assertContains(client.get(link, follow=True), "有効期限", status_code=400)


def test_an_altered_link_is_refused(client, utility, mailoutbox):
    ask_for_link(client, utility)
    link = last_signup_link(mailoutbox)
    response = client.get(link[:-6] + "xxxxx/", follow=True)
    assertContains(response, "会員登録用URLが正しくありません。", status_code=400)


def test_details_without_a_link_say_to_start_again(client, utility):
    response = client.get(url("signup_details", utility))
    assertContains(response, "会員登録をやり直す", status_code=400)


# ⑥ The details -----------------------------------------------------------------------------


def test_details_page_shows_every_field_and_hint_of_the_seed(client, utility, mailoutbox):
    reach_details(client, utility, mailoutbox)
    response = client.get(url("signup_details", utility))
    for words in [
        "お客さま情報の入力",
        "ログイン情報の入力",
        "ポータル登録番号",
        "(半角数字14文字)",
        "・検針票等に記載のポータル登録番号をご確認いただき、入力してください。",
        "お客さま名",
        "(全角40文字以内)",
        "・検針票等に記載された水道をご使用されている方の氏名を入力してください。",
        "住所(市町村名・番地)",
        "・[例]〇〇市△△町1500-1",
        "建物名・アパート名・部屋番号",
        "・[例]△△アパート101号室",
        "連絡先電話番号",
        "・[例]03-1234-5678",
        "ご希望のログインID",
        "(半角英数6〜16文字 ※記号以外)",
        "・ご希望のログインIDを既に他のお客さまが使用されている場合は登録できません。",
        "ご希望のパスワード",
        "(半角小文字英数混在8〜16文字 ※記号以外)",
        "ご希望のパスワード(確認用)",
        "(確認のため、もう一度入力してください)",
        "秘密の質問",
        "あなたの一番好きな食べ物は何?",
        "回答",
        "消費税申告の有無",
        "(※適格請求書関連の質問です)",
        "(下記よりお選びください)",
        f"{utility.portal_name}を知ったきっかけ",
        "入力内容を確認する",
    ]:
        assertContains(response, words)


def test_a_utility_asks_only_the_questions_it_has_switched_on(client, mailoutbox):
    utility = UtilityFactory(
        asks_address=False,
        asks_secret_question=False,
        asks_tax_declaration=False,
        asks_referral=False,
        customer_number_label="お客様番号",
        customer_number_digits=11,
    )
    reach_details(client, utility, mailoutbox)
    response = client.get(url("signup_details", utility))
    assertContains(response, "お客様番号")
    assertContains(response, "(半角数字11文字)")
    for words in ["住所(市町村名・番地)", "秘密の質問", "消費税申告の有無", "知ったきっかけ"]:
        assertNotContains(response, words)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"customer_number": "1234"}, "customer_number", "ポータル登録番号は半角数字14桁"),
        ({"name": "水" * 41}, "name", "お客さま名は40文字以内で入力してください。"),
        ({"address": ""}, "address", "住所を入力してください。"),
        ({"phone": "12-34"}, "phone", "電話番号は市外局番から10〜11桁"),
        ({"login_id": "taro"}, "login_id", "ログインIDは半角英数字6〜16文字"),
        ({"login_id": "taro_0401"}, "login_id", "記号は使えません"),
        (
            {"password": "Mizu2025ab", "password_confirm": "Mizu2025ab"},
            "password",
            "記号・大文字は使えません",
        ),
        (
            {"password": "mizukanazawa", "password_confirm": "mizukanazawa"},
            "password",
            "英字と数字の両方",
        ),
        (
            {"password": "taro04010", "password_confirm": "taro04010"},
            "password",
            "ログインID",
        ),
        (
            {"password": "password1", "password_confirm": "password1"},
            "password",
            "よく使われていて推測されやすいため、使えません。",
        ),
        (
            {"password_confirm": "mizu2025ac"},
            "password_confirm",
            "ご希望のパスワード(確認用)が一致しません。",
        ),
        ({"secret_question": ""}, "secret_question", "秘密の質問を選んでください。"),
        ({"secret_answer": ""}, "secret_answer", "秘密の質問の回答を入力してください。"),
        ({"tax_declaration": ""}, "tax_declaration", "消費税申告の有無を選んでください。"),
        ({"referral": ""}, "referral", "知ったきっかけを選んでください。"),
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
    assertContains(response, 'class="field field--error"')
    assert EmailChallenge.objects.get().used_at is None  # nothing used up yet


def test_a_login_id_in_use_is_refused_with_the_seed_message(client, utility, mailoutbox, contract):
    MemberFactory(utility=utility, login_id="taro0401")
    reach_details(client, utility, mailoutbox)
    response = client.post(url("signup_confirm", utility), details_for(contract))
    assertContains(response, "このログインIDは既に使用されています")


def test_the_same_login_id_in_another_utility_is_someone_else(
    client, utility, mailoutbox, contract
):
    MemberFactory(login_id="taro0401")
    reach_details(client, utility, mailoutbox)
    response = client.post(url("signup_confirm", utility), details_for(contract))
    assertContains(response, "お客さま情報の確認")


def test_full_width_digits_spaces_and_hyphens_are_normalised(client, utility, mailoutbox, contract):
    response = sign_up(
        client,
        utility,
        mailoutbox,
        contract,
        customer_number="１０００ ００００－００００‐０１",
        phone="０７６－１２３－４５６７",
        name="水道　太郎",
        login_id="ＴＡＲＯ0401",
    )
    assertRedirects(response, url("signup_done", utility))
    member = Member.objects.get(email=EMAIL)
    assert member.signup_customer_number == "10000000000001"
    assert member.phone == "0761234567"
    assert member.login_id == "taro0401"
    assert member.signup_match["number"] and member.signup_match["name"]


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("金沢市広坂１丁目１ー１", "金沢市広坂1丁目1-1"),  # the long-vowel mark a phone offers
        ("金沢市広坂１丁目１－１", "金沢市広坂1丁目1-1"),
        ("金沢市広坂1丁目1‐1", "金沢市広坂1丁目1-1"),
        ("金沢市広坂1丁目1−1", "金沢市広坂1丁目1-1"),
    ],
)
def test_an_address_is_saved_with_plain_hyphens_between_numbers(
    client, utility, mailoutbox, contract, typed, saved
):
    """Finding 7 (issue 15 review): 「11ー12」 matched the contract's 「11-12」 but was saved,
    and shown to staff, with the ー."""
    sign_up(client, utility, mailoutbox, contract, address=typed)
    member = Member.objects.get(email=EMAIL)
    assert member.address == saved
    assert member.signup_match["address"]


# ⑦ Confirmation ---------------------------------------------------------------------------


def test_confirmation_shows_everything_with_the_password_masked(
    client, utility, mailoutbox, contract
):
    reach_details(client, utility, mailoutbox)
    response = client.post(url("signup_confirm", utility), details_for(contract))
    for words in [
        "10000000000001",
        "水道 太郎",
        "金沢市広坂1丁目1-1",
        "0761234567",
        "taro0401",
        "********",
        "あなたの一番好きな食べ物は何?",
        "バナナ",
        "無",
        "検針票",
        "入力画面に戻る",
        "本会員申請する",
    ]:
        assertContains(response, words)
    assertNotContains(response, "mizu2025ab")
    assert EmailChallenge.objects.get().used_at is not None
    kept = str(client.session[services.SIGNUP_DETAILS_SESSION_KEY])
    assert "mizu2025ab" not in kept and "バナナ" not in kept


def test_back_to_the_form_keeps_the_values_and_asks_passwords_again(
    client, utility, mailoutbox, contract
):
    reach_details(client, utility, mailoutbox)
    confirm = client.post(url("signup_confirm", utility), details_for(contract))
    assertContains(confirm, f'action="{url("signup_back", utility)}"')
    response = client.post(url("signup_back", utility))
    assertContains(response, 'value="10000000000001"')
    assertContains(response, 'value="taro0401"')
    assertContains(response, '<option value="food" selected>')
    assertNotContains(response, "mizu2025ab")
    changed = details_for(contract, login_id="taro0402", secret_answer="")
    client.post(url("signup_confirm", utility), changed)
    assertRedirects(client.post(url("signup_complete", utility)), url("signup_done", utility))
    member = Member.objects.get(email=EMAIL)
    assert member.login_id == "taro0402"
    assert check_password("バナナ", member.secret_answer_hash)  # typed once, at the first ⑥


def test_back_to_the_form_keeps_the_secret_answer_without_it_ever_in_a_page(
    client, utility, mailoutbox, contract
):
    """Issue 15: going back from ⑦ keeps the answer (「入力済み」), but no page carries it
    (no hidden field on ⑦, no value on ⑥) and the session holds only its hash."""
    reach_details(client, utility, mailoutbox)
    confirm = client.post(
        url("signup_confirm", utility), details_for(contract, secret_answer="ばなな")
    )
    assertNotContains(confirm, 'type="hidden" name="secret_answer"')
    kept = str(dict(client.session.items()))
    assert "ばなな" not in kept and "バナナ" not in kept
    for back in (
        client.post(url("signup_back", utility)),
        client.get(url("signup_details", utility)),
    ):
        html = back.content.decode()
        assert "ばなな" not in html and "バナナ" not in html
        assertContains(back, "入力済み")
        assertContains(back, "変更する場合のみ")
    # Unchanged, ⑦ says it is already entered; 本会員申請 keeps the first answer.
    again = client.post(url("signup_confirm", utility), details_for(contract, secret_answer=""))
    assertContains(again, "入力済み(変更なし)")
    assert "ばなな" not in again.content.decode()
    client.post(url("signup_complete", utility))
    assert check_password("バナナ", Member.objects.get(email=EMAIL).secret_answer_hash)


def test_a_new_answer_typed_after_going_back_replaces_the_kept_one(
    client, utility, mailoutbox, contract
):
    reach_details(client, utility, mailoutbox)
    client.post(url("signup_confirm", utility), details_for(contract))
    client.post(url("signup_back", utility))
    client.post(url("signup_confirm", utility), details_for(contract, secret_answer="りんご"))
    client.post(url("signup_complete", utility))
    assert check_password("リンゴ", Member.objects.get(email=EMAIL).secret_answer_hash)


def test_without_a_kept_answer_the_answer_is_still_required(client, utility, mailoutbox, contract):
    reach_details(client, utility, mailoutbox)
    response = client.post(url("signup_confirm", utility), details_for(contract, secret_answer=""))
    assertContains(response, "秘密の質問の回答を入力してください。")
    assertNotContains(response, "入力済み")


# ⑧ Completion ------------------------------------------------------------------------------


def test_completion_saves_a_pending_member_and_mails_the_seed_text(
    client, utility, mailoutbox, contract
):
    response = sign_up(client, utility, mailoutbox, contract)
    assertRedirects(response, url("signup_done", utility))
    page = client.get(url("signup_done", utility))
    assertContains(page, "会員登録が完了しました")
    assertContains(page, "「ご使用量等の確認についてのご案内」メールご到着後")
    assertContains(page, f"{utility.name}から電話等でご登録内容を確認させていただく場合")

    member = Member.objects.get(email=EMAIL)
    assert member.status == Member.Status.PENDING
    assert member.utility == utility
    assert member.check_password("mizu2025ab")
    assert member.secret_question == "food"
    assert "バナナ" not in member.secret_answer_hash
    assert check_password("バナナ", member.secret_answer_hash)
    assert (member.tax_declaration, member.referral) == ("no", "slip")
    assert member.contracts.count() == 0

    mail = mailoutbox[-1]
    assert len(mailoutbox) == 2
    assert mail.to == [EMAIL]
    assert mail.subject == f"【{utility.portal_name}】会員登録が完了しました"
    assert f"{utility.portal_name}にご登録いただき、誠にありがとうございます。" in mail.body
    assert "数日（受付が混み合っている場合は10日程度）お時間をいただきます。" in mail.body
    assert "※本メールは送信専用アドレスからお送りしています。" in mail.body
    assert utility.contact_block in mail.body
    for key in (services.SIGNUP_SESSION_KEY, services.SIGNUP_DETAILS_SESSION_KEY):
        assert key not in client.session


def test_the_secret_answer_is_kept_in_its_normalised_form(client, utility, mailoutbox, contract):
    sign_up(client, utility, mailoutbox, contract, secret_answer="ばなな ")
    member = Member.objects.get(email=EMAIL)
    assert check_password("バナナ", member.secret_answer_hash)


def test_a_pending_member_is_told_why_login_waits(client, utility, mailoutbox, contract):
    sign_up(client, utility, mailoutbox, contract)
    response = client.post(
        url("login", utility), {"identifier": "taro0401", "password": "mizu2025ab"}
    )
    assertContains(response, "現在、登録内容を確認中です。")
    assert "_auth_user_id" not in client.session


def test_completion_mail_refused_for_good_keeps_the_member_and_tells_staff(
    client, utility, mailoutbox, contract, monkeypatch, caplog
):
    reach_details(client, utility, mailoutbox)
    client.post(url("signup_confirm", utility), details_for(contract))
    refuse_mail_for_good(monkeypatch)
    response = client.post(url("signup_complete", utility))
    assertRedirects(response, url("signup_done", utility))
    member = Member.objects.get(email=EMAIL)
    assert member.status == Member.Status.PENDING
    event = MemberEvent.objects.get(member=member, action="mail_failed")
    assert event.detail == {"mail": "signup_complete", "reply": REFUSED_FOR_GOOD}
    assert REFUSED_FOR_GOOD in caplog.text


def test_a_login_id_taken_meanwhile_sends_the_resident_back_to_the_field(
    client, utility, mailoutbox, contract
):
    reach_details(client, utility, mailoutbox)
    client.post(url("signup_confirm", utility), details_for(contract))
    MemberFactory(utility=utility, login_id="taro0401")
    response = client.post(url("signup_complete", utility))
    assert response.status_code == HTTPStatus.CONFLICT
    assertContains(response, "このログインIDは既に使用されています", status_code=409)
    assertContains(response, 'value="10000000000001"', status_code=409)
    assert not Member.objects.filter(email=EMAIL).exists()


def test_pressing_本会員申請する_twice_makes_one_member_and_one_mail(
    client, utility, mailoutbox, contract
):
    sign_up(client, utility, mailoutbox, contract)
    again = client.post(url("signup_complete", utility))
    assertContains(again, "会員登録をやり直す", status_code=400)
    assert Member.objects.filter(email=EMAIL).count() == 1
    assert len(mailoutbox) == 2


def test_a_code_style_utility_gets_the_code_step_instead(client):
    utility = UtilityFactory(code_style=True)
    response = client.get(url("signup", utility))
    assertContains(response, "1/4 メールアドレス登録")
    assertNotContains(response, "メールアドレス (確認用)")


# Two residents, one login ID, the same moment ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_signups_with_one_login_id_one_wins(mailoutbox):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locking between connections: CI runs this on PostgreSQL")
    utility = UtilityFactory()
    contract = kanazawa_contract(utility)
    clients = [Client(), Client()]
    for number, browser in enumerate(clients):
        email = f"resident{number}@example.jp"
        reach_details(browser, utility, mailoutbox, email)
        browser.post(url("signup_confirm", utility), details_for(contract))
    barrier = threading.Barrier(2)
    responses = []

    def submit(browser):
        barrier.wait()
        try:
            responses.append(browser.post(url("signup_complete", utility)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(browser,)) for browser in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [HTTPStatus.FOUND, HTTPStatus.CONFLICT]
    loser = next(r for r in responses if r.status_code == HTTPStatus.CONFLICT)
    assert "このログインIDは既に使用されています" in loser.content.decode()
    assert Member.objects.filter(utility=utility, login_id="taro0401").count() == 1
