"""会員情報: details, email, password, secret question, tax, contracts, withdrawal, audit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import ContractLink, ContractRequest, EmailChallenge, Member, MemberEvent
from accounts.services import base, review
from portal import normalize
from tests.conftest import PASSWORD
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
START = datetime(2025, 4, 1, 9, 0, tzinfo=JST)
LINK_RE = re.compile(r"https?://\S+/account/email/link/\S+/")
CODE_RE = re.compile(r"認証コード: (\d{6})")


def url(utility, name: str, *args) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug, *args])


def actions(member) -> list[str]:
    return list(MemberEvent.objects.filter(member=member).values_list("action", flat=True))


@pytest.fixture
def nayoro():
    return UtilityFactory(code_style=True)


@pytest.fixture
def nayoro_member(nayoro):
    member = MemberFactory(
        utility=nayoro, login_id="", email="taro@example.jp", password="Nayoro#2026"
    )
    ContractLinkFactory(member=member)
    return member


# Details -----------------------------------------------------------------------------------


def test_header_links_to_the_settings_for_a_logged_in_resident(logged_in_client, user):
    response = logged_in_client.get(reverse("billing:dashboard", args=[user.utility.slug]))
    assertContains(response, f'href="{url(user.utility, "profile")}"')
    assertContains(response, "会員情報")


def test_settings_page_shows_own_details_and_contracts(logged_in_client, user):
    contract = user.contracts.get()
    response = logged_in_client.get(url(user.utility, "profile"))
    assertContains(response, user.login_id)
    assertContains(response, user.email)
    assertContains(response, contract.number)
    for words in [
        "メールアドレス",
        "パスワード",
        "秘密の質問",
        "消費税申告の有無",
        "契約を追加する",
        "退会",
    ]:
        assertContains(response, words)
    assertNotContains(response, "suido2026")


def test_settings_are_private(client, utility):
    response = client.get(url(utility, "profile"))
    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith(url(utility, "login"))


def test_email_utility_hides_the_questions_it_does_not_ask(client, nayoro, nayoro_member):
    client.force_login(nayoro_member)
    response = client.get(url(nayoro, "profile"))
    assertNotContains(response, "秘密の質問")
    assert client.get(url(nayoro, "profile_secret")).status_code == HTTPStatus.NOT_FOUND


def test_a_utility_that_issues_no_invoices_has_no_tax_question(client, nayoro, nayoro_member):
    nayoro.invoice_registration_number = ""
    nayoro.save()
    client.force_login(nayoro_member)
    assertNotContains(client.get(url(nayoro, "profile")), "消費税申告の有無")
    assert client.get(url(nayoro, "profile_tax")).status_code == HTTPStatus.NOT_FOUND


# Password ------------------------------------------------------------------------------------


def change_password(client, utility, current=PASSWORD, new="mizu2027new", again=None):
    return client.post(
        url(utility, "profile_password"),
        {"current_password": current, "password": new, "password_confirm": again or new},
    )


def test_password_change_needs_the_current_password(logged_in_client, user):
    response = change_password(logged_in_client, user.utility, current="wrong-pass1")
    assertContains(response, "現在のパスワードが正しくありません。")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_follows_the_utility_rule(logged_in_client, user):
    response = change_password(logged_in_client, user.utility, new="ABCDEFGH")
    assertContains(response, "半角の小文字英字と数字")
    response = change_password(logged_in_client, user.utility, again="mizu2027xxx")
    assertContains(response, "一致しません")


def test_password_change_keeps_this_session_and_ends_the_others(logged_in_client, user, mailoutbox):
    other = Client()
    other.force_login(user)
    dashboard = reverse("billing:dashboard", args=[user.utility.slug])
    assert other.get(dashboard).status_code == HTTPStatus.OK
    response = change_password(logged_in_client, user.utility)
    assertRedirects(response, url(user.utility, "profile"))
    assert logged_in_client.get(dashboard).status_code == HTTPStatus.OK
    assert other.get(dashboard).status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert user.check_password("mizu2027new")
    assert mailoutbox[-1].subject == f"【{user.utility.portal_name}】パスワード変更のお知らせ"
    assert actions(user) == ["password_changed"]


def test_current_password_guesses_are_rate_limited(logged_in_client, user, settings):
    settings.PORTAL_PASSWORD_CHECK_RATE_PER_MEMBER = "2/h"
    for _ in range(2):
        change_password(logged_in_client, user.utility, current="wrong-pass1")
    response = change_password(logged_in_client, user.utility)
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


# Secret question and 消費税申告の有無 ---------------------------------------------------------


def test_secret_question_change_hashes_the_normalised_answer(logged_in_client, user):
    response = logged_in_client.post(
        url(user.utility, "profile_secret"),
        {"secret_question": "pet", "secret_answer": "ぽち", "current_password": PASSWORD},
    )
    assertRedirects(response, url(user.utility, "profile"))
    user.refresh_from_db()
    assert user.secret_question == "pet"
    assert "ポチ" not in user.secret_answer_hash
    assert check_password(normalize.secret_answer("ポチ"), user.secret_answer_hash)
    event = MemberEvent.objects.get(member=user, action="secret_question_changed")
    assert event.detail == {"question": "pet"}


def test_secret_question_change_needs_the_current_password(logged_in_client, user):
    response = logged_in_client.post(
        url(user.utility, "profile_secret"),
        {"secret_question": "pet", "secret_answer": "ぽち", "current_password": "nope-nope1"},
    )
    assertContains(response, "現在のパスワードが正しくありません。")
    assert actions(user) == []


def test_tax_declaration_change_is_recorded_with_before_and_after(logged_in_client, user):
    Member.objects.filter(pk=user.pk).update(tax_declaration="no")
    response = logged_in_client.post(url(user.utility, "profile_tax"), {"tax_declaration": "yes"})
    assertRedirects(response, url(user.utility, "profile"))
    user.refresh_from_db()
    assert user.tax_declaration == "yes"
    event = MemberEvent.objects.get(member=user)
    assert (event.action, event.detail, event.actor) == (
        "tax_declaration_changed",
        {"from": "no", "to": "yes"},
        user,
    )
    # The same answer again changes and records nothing.
    logged_in_client.post(url(user.utility, "profile_tax"), {"tax_declaration": "yes"})
    assert MemberEvent.objects.filter(member=user).count() == 1


# Email change --------------------------------------------------------------------------------


def start_email(client, utility, email="new@example.jp", again=None, password=PASSWORD):
    return client.post(
        url(utility, "profile_email"),
        {"current_password": password, "new_email": email, "new_email_confirm": again or email},
    )


def test_changing_the_email_address_asks_for_the_current_password(
    logged_in_client, user, mailoutbox
):
    """Finding 11 (issue 15 review): anyone at an unlocked session could move the address
    (and with it password recovery) elsewhere; 退会 already asks for the password."""
    page = logged_in_client.get(url(user.utility, "profile_email"))
    assertContains(page, '<label for="id_current_password">現在のパスワード</label>')
    for typed in ["", "not-the-password"]:
        response = start_email(logged_in_client, user.utility, password=typed)
        assert response.status_code == HTTPStatus.OK
        message = (
            "現在のパスワードを入力してください。"
            if not typed
            else "現在のパスワードが正しくありません。"
        )
        assertContains(response, message)
    assert mailoutbox == []
    assert actions(user) == []
    response = start_email(logged_in_client, user.utility)
    assertRedirects(response, url(user.utility, "profile_email_sent"))
    assert mailoutbox[-1].to == ["new@example.jp"]


def test_email_change_by_link_waits_for_the_new_address(logged_in_client, user, mailoutbox):
    old = user.email
    response = start_email(logged_in_client, user.utility)
    assertRedirects(response, url(user.utility, "profile_email_sent"))
    user.refresh_from_db()
    assert user.email == old
    assert mailoutbox[-1].to == ["new@example.jp"]
    link = LINK_RE.search(mailoutbox[-1].body).group(0)
    response = logged_in_client.get(link)
    assertRedirects(response, url(user.utility, "profile_email_confirm"))
    response = logged_in_client.get(url(user.utility, "profile_email_confirm"))
    assertContains(response, "new@example.jp")
    user.refresh_from_db()
    assert user.email == old  # the GET changed nothing
    response = logged_in_client.post(url(user.utility, "profile_email_confirm"))
    assertRedirects(response, url(user.utility, "profile"))
    user.refresh_from_db()
    assert user.email == "new@example.jp"
    notice = mailoutbox[-1]
    assert notice.to == [old]
    assert notice.subject == f"【{user.utility.portal_name}】メールアドレス変更のお知らせ"
    assert actions(user) == ["email_changed", "email_change_requested"]
    # The link is single-use.
    logged_in_client.get(link)
    response = logged_in_client.post(url(user.utility, "profile_email_confirm"))
    assertContains(response, "既に使われた", status_code=HTTPStatus.BAD_REQUEST)


def test_email_link_opened_while_signed_out_works_after_login(client, user, mailoutbox):
    client.force_login(user)
    start_email(client, user.utility)
    link = LINK_RE.search(mailoutbox[-1].body).group(0)
    client.post(url(user.utility, "logout"))
    response = client.get(link)
    assertRedirects(
        response, url(user.utility, "profile_email_confirm"), fetch_redirect_response=False
    )
    response = client.get(url(user.utility, "profile_email_confirm"))
    assert "token" not in response.url and response.url.startswith(url(user.utility, "login"))
    client.post(url(user.utility, "login"), {"identifier": user.login_id, "password": PASSWORD})
    client.post(url(user.utility, "profile_email_confirm"))
    user.refresh_from_db()
    assert user.email == "new@example.jp"


def test_email_link_of_another_member_is_refused(client, user, utility, mailoutbox):
    client.force_login(user)
    start_email(client, utility)
    link = LINK_RE.search(mailoutbox[-1].body).group(0)
    intruder = MemberFactory(utility=utility)
    other = Client()
    other.force_login(intruder)
    other.get(link)
    response = other.post(url(utility, "profile_email_confirm"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    intruder.refresh_from_db()
    assert intruder.email != "new@example.jp"


def test_email_link_expires(logged_in_client, user, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    start_email(logged_in_client, user.utility)
    link = LINK_RE.search(mailoutbox[-1].body).group(0)
    time_machine.move_to(START + timedelta(hours=user.utility.signup_link_ttl_hours, seconds=1))
    later = Client()  # a day later the idle session has ended: a fresh login
    later.force_login(user)
    later.get(link)
    response = later.get(url(user.utility, "profile_email_confirm"))
    assertContains(response, "有効期限が切れています", status_code=HTTPStatus.BAD_REQUEST)


def test_address_of_another_member_is_not_revealed(logged_in_client, user, utility, mailoutbox):
    MemberFactory(utility=utility, email="taken@example.jp")
    taken = start_email(logged_in_client, utility, "Taken@example.jp")
    free = start_email(logged_in_client, utility, "free@example.jp")
    assert taken.status_code == free.status_code == HTTPStatus.FOUND
    assert taken.url == free.url
    taken_mail = mailoutbox[-2]
    assert taken_mail.to == ["Taken@example.jp"]
    assert "既に別の会員として登録されている" in taken_mail.body
    assert not LINK_RE.search(taken_mail.body)
    assert EmailChallenge.objects.filter(member=user, email__iexact="taken@example.jp").count() == 0


def test_email_form_refuses_the_current_address_and_a_mismatch(logged_in_client, user):
    response = start_email(logged_in_client, user.utility, user.email.upper())
    assertContains(response, "現在ご登録のメールアドレスと同じです。")
    response = start_email(logged_in_client, user.utility, "a@example.jp", "b@example.jp")
    assertContains(response, "一致しません")


def test_email_change_by_code(client, nayoro, nayoro_member, mailoutbox):
    client.force_login(nayoro_member)
    response = start_email(client, nayoro, password="Nayoro#2026")
    assertRedirects(response, url(nayoro, "profile_email_code"))
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    assert mailoutbox[-1].to == ["new@example.jp"]
    challenge = EmailChallenge.objects.get(member=nayoro_member)
    assert code not in challenge.secret_hash
    response = client.post(
        url(nayoro, "profile_email_code"), {"code": "000000" if code != "000000" else "111111"}
    )
    assertContains(response, "認証コードが正しくないか")
    response = client.post(url(nayoro, "profile_email_code"), {"code": code})
    assertRedirects(response, url(nayoro, "profile"))
    nayoro_member.refresh_from_db()
    assert nayoro_member.email == "new@example.jp"
    assert mailoutbox[-1].to == ["taro@example.jp"]
    # Email-login utilities: the new address is the new login.
    client.post(url(nayoro, "logout"))
    client.post(url(nayoro, "login"), {"identifier": "new@example.jp", "password": "Nayoro#2026"})
    assert client.session["_auth_user_id"] == str(nayoro_member.pk)


def test_email_code_dies_after_five_wrong_tries(client, nayoro, nayoro_member, mailoutbox):
    client.force_login(nayoro_member)
    start_email(client, nayoro, password="Nayoro#2026")
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(4):
        client.post(url(nayoro, "profile_email_code"), {"code": wrong})
    response = client.post(url(nayoro, "profile_email_code"), {"code": wrong})
    assertContains(response, "使えなくなりました", status_code=HTTPStatus.BAD_REQUEST)
    response = client.post(url(nayoro, "profile_email_code"), {"code": code})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    nayoro_member.refresh_from_db()
    assert nayoro_member.email == "taro@example.jp"


def test_email_change_requests_are_rate_limited(logged_in_client, user, settings):
    settings.PORTAL_EMAIL_CHANGE_RATE_PER_MEMBER = "1/h"
    start_email(logged_in_client, user.utility)
    response = start_email(logged_in_client, user.utility, "again@example.jp")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


# Contracts -------------------------------------------------------------------------------------


def contract_form(customer, **overrides) -> dict:
    data = {
        "customer_number": customer.number,
        "name": customer.name,
        "name_kana": customer.name_kana,
        "address": customer.address,
        "phone": customer.phone,
    }
    return {**data, **overrides}


def test_staff_activation_makes_a_pending_request_without_access(logged_in_client, user):
    second = CustomerFactory(utility=user.utility)
    response = logged_in_client.post(
        url(user.utility, "profile_contract_add"), contract_form(second)
    )
    assertRedirects(response, url(user.utility, "profile"))
    request = ContractRequest.objects.get(member=user)
    assert (request.status, request.customer) == (ContractRequest.Status.PENDING, second)
    assert request.match["phone"] is True
    assert not user.contracts.filter(pk=second.pk).exists()
    response = logged_in_client.get(url(user.utility, "profile"))
    assertContains(response, "確認中の追加申請")
    assert actions(user) == ["contract_requested"]
    # The same number again is already waiting.
    response = logged_in_client.post(
        url(user.utility, "profile_contract_add"), contract_form(second)
    )
    assertContains(response, "既に受け付けており")


def test_an_added_contracts_address_is_kept_with_plain_hyphens(logged_in_client, user):
    """Finding 7 (issue 15 review): 「15ー7」 was kept (and shown to staff) with the ー."""
    second = CustomerFactory(utility=user.utility, address="金沢市広坂2丁目15-7")
    logged_in_client.post(
        url(user.utility, "profile_contract_add"),
        contract_form(second, address="金沢市広坂２丁目１５ー７"),
    )
    request = ContractRequest.objects.get(member=user)
    assert request.address == "金沢市広坂2丁目15-7"
    assert request.match["address"] is True


def test_staff_approve_and_reject_requests(user, mailoutbox):
    staff = StaffFactory(utility=user.utility)
    second, third = CustomerFactory(utility=user.utility), CustomerFactory(utility=user.utility)
    approve = ContractRequest.objects.create(
        member=user, customer=second, customer_number=second.number
    )
    reject = ContractRequest.objects.create(
        member=user, customer=third, customer_number=third.number
    )
    review.approve_contract_request(approve, staff)
    link = ContractLink.objects.get(member=user, customer=second)
    assert link.approved_by == staff
    assert mailoutbox[-1].subject == f"【{user.utility.portal_name}】契約を追加しました"
    with pytest.raises(review.AlreadyReviewed):
        review.approve_contract_request(approve, staff)
    review.reject_contract_request(reject, staff)
    reject.refresh_from_db()
    assert reject.status == ContractRequest.Status.REJECTED
    assert not ContractLink.objects.filter(member=user, customer=third).exists()
    events = MemberEvent.objects.filter(member=user, actor=staff).values_list("action", flat=True)
    assert set(events) == {"contract_request_approved", "contract_request_rejected"}


def test_request_without_a_contract_cannot_be_approved_and_other_staff_cannot_touch_it(user):
    request = ContractRequest.objects.create(member=user, customer_number="99999999999999")
    with pytest.raises(review.ContractRequired):
        review.approve_contract_request(request, StaffFactory(utility=user.utility))
    with pytest.raises(review.NotAllowed):
        review.approve_contract_request(request, StaffFactory(utility=UtilityFactory()))


def test_auto_activation_links_a_matching_contract_at_once(
    client, nayoro, nayoro_member, mailoutbox
):
    client.force_login(nayoro_member)
    second = CustomerFactory(utility=nayoro)
    response = client.post(
        url(nayoro, "profile_contract_add"),
        contract_form(second, phone=f"{second.phone[:3]}-{second.phone[3:]}"),
    )
    assertRedirects(response, url(nayoro, "profile"))
    assert nayoro_member.contracts.filter(pk=second.pk).exists()
    assert mailoutbox[-1].subject == f"【{nayoro.portal_name}】契約を追加しました"
    assert actions(nayoro_member) == ["contract_added"]
    response = client.post(url(nayoro, "profile_contract_add"), contract_form(second))
    assertContains(response, "既に会員情報に登録されています")


def test_auto_activation_sends_a_mismatch_to_staff_and_reveals_nothing(
    client, nayoro, nayoro_member
):
    client.force_login(nayoro_member)
    second = CustomerFactory(utility=nayoro)
    wrong_phone = client.post(
        url(nayoro, "profile_contract_add"), contract_form(second, phone="0399999999")
    )
    no_such = client.post(
        url(nayoro, "profile_contract_add"),
        contract_form(second, customer_number="09999999999"),
    )
    assert wrong_phone.status_code == no_such.status_code == HTTPStatus.FOUND
    assert not nayoro_member.contracts.filter(pk=second.pk).exists()
    assert ContractRequest.objects.filter(member=nayoro_member).count() == 2


def test_malformed_contract_number_gets_a_field_message(logged_in_client, user):
    response = logged_in_client.post(
        url(user.utility, "profile_contract_add"),
        {"customer_number": "12", "name": "水道 太郎", "address": "x", "phone": "0312345678"},
    )
    assertContains(response, "ポータル登録番号は半角数字14桁で入力してください。")


@pytest.mark.parametrize(
    "phone",
    ["0312345", "03123456789012345678901", '"><img src=x onerror=alert(1)>', "03-1234-abcd"],
)
def test_a_phone_that_is_not_one_gets_a_field_message_and_no_request(logged_in_client, user, phone):
    second = CustomerFactory(utility=user.utility)
    response = logged_in_client.post(
        url(user.utility, "profile_contract_add"), contract_form(second, phone=phone)
    )
    assertContains(response, "電話番号は市外局番から10〜11桁の数字で入力してください。")
    assert not ContractRequest.objects.filter(member=user).exists()


def test_contract_requests_are_rate_limited(logged_in_client, user, settings):
    settings.PORTAL_CONTRACT_ADD_RATE_PER_MEMBER = "1/h"
    form = contract_form(CustomerFactory(utility=user.utility))
    logged_in_client.post(url(user.utility, "profile_contract_add"), form)
    response = logged_in_client.post(
        url(user.utility, "profile_contract_add"), {**form, "customer_number": "1" * 14}
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


# Withdrawal ----------------------------------------------------------------------------------


def test_withdrawal_needs_the_password_then_a_confirmation(
    logged_in_client, user, mailoutbox, time_machine
):
    time_machine.move_to(START, tick=False)
    utility = user.utility
    pending = ContractRequest.objects.create(member=user, customer_number="1" * 14)
    challenge = EmailChallenge.objects.create(
        utility=utility,
        member=user,
        purpose=EmailChallenge.Purpose.EMAIL_CHANGE,
        email="x@example.jp",
        secret_hash="!",
        expires_at=START + timedelta(hours=1),
    )
    # Straight to the confirmation: sent back to the first step.
    response = logged_in_client.post(url(utility, "profile_withdraw_confirm"))
    assertRedirects(response, url(utility, "profile_withdraw"))
    response = logged_in_client.post(
        url(utility, "profile_withdraw"), {"current_password": "wrong-pass1"}
    )
    assertContains(response, "現在のパスワードが正しくありません。")
    response = logged_in_client.post(
        url(utility, "profile_withdraw"), {"current_password": PASSWORD}
    )
    assertRedirects(response, url(utility, "profile_withdraw_confirm"))
    assertContains(logged_in_client.get(url(utility, "profile_withdraw_confirm")), "退会する")
    user.refresh_from_db()
    assert user.status == Member.Status.ACTIVE
    response = logged_in_client.post(url(utility, "profile_withdraw_confirm"))
    assertRedirects(response, url(utility, "profile_withdrawn"))
    user.refresh_from_db()
    assert (user.status, user.withdrawn_at) == (Member.Status.WITHDRAWN, START)
    assert "_auth_user_id" not in logged_in_client.session
    pending.refresh_from_db()
    challenge.refresh_from_db()
    assert pending.status == ContractRequest.Status.CANCELLED
    assert challenge.used_at == START
    assert ContractLink.objects.filter(member=user).exists()  # staff still see the record
    assert mailoutbox[-1].subject == f"【{utility.portal_name}】退会が完了しました"
    assert "withdrawn" in actions(user)
    # Cannot log in any more, and the login page says why.
    response = logged_in_client.post(
        url(utility, "login"), {"identifier": user.login_id, "password": PASSWORD}
    )
    assertContains(response, "退会済み")


def test_withdrawal_ends_other_sessions(logged_in_client, user):
    other = Client()
    other.force_login(user)
    logged_in_client.post(url(user.utility, "profile_withdraw"), {"current_password": PASSWORD})
    logged_in_client.post(url(user.utility, "profile_withdraw_confirm"))
    response = other.get(reverse("billing:dashboard", args=[user.utility.slug]))
    assert response.status_code == HTTPStatus.FOUND


def test_withdrawal_confirmation_expires(logged_in_client, user, time_machine):
    time_machine.move_to(START, tick=False)
    logged_in_client.post(url(user.utility, "profile_withdraw"), {"current_password": PASSWORD})
    time_machine.move_to(START + timedelta(minutes=11), tick=False)
    response = logged_in_client.post(url(user.utility, "profile_withdraw_confirm"))
    assertRedirects(response, url(user.utility, "profile_withdraw"))
    user.refresh_from_db()
    assert user.status == Member.Status.ACTIVE


def test_withdrawn_member_cannot_recover(client, user, utility):
    Member.objects.filter(pk=user.pk).update(status=Member.Status.WITHDRAWN)
    response = client.post(
        url(utility, "recovery"),
        {"email": user.email, "customer_number": user.contracts.get().number},
    )
    assertContains(response, "確認できませんでした")


# Audit trail in the admin -----------------------------------------------------------------------


def test_staff_see_the_changes_and_withdrawal_in_the_admin(client, user, utility):
    base.record_event(user, "password_changed")
    Member.objects.filter(pk=user.pk).update(status=Member.Status.WITHDRAWN, withdrawn_at=START)
    staff = StaffFactory(utility=utility, is_superuser=True, password="Staff-Pass-2026")
    client.force_login(staff)
    response = client.get(reverse("admin:accounts_member_change", args=[user.pk]))
    assertContains(response, "パスワード変更")
    assertContains(response, "退会日時")
    response = client.get(reverse("admin:accounts_member_changelist"))
    assertContains(response, "退会")


def test_staff_approve_a_request_from_the_admin(client, user, utility, mailoutbox):
    second = CustomerFactory(utility=utility)
    request = ContractRequest.objects.create(
        member=user, customer=second, customer_number=second.number, match={"number": True}
    )
    staff = StaffFactory(utility=utility, is_superuser=True)
    client.force_login(staff)
    response = client.get(reverse("admin:accounts_contractrequest_changelist"))
    assertContains(response, second.number)
    response = client.post(
        reverse("admin:accounts_contractrequest_changelist"),
        {"action": "approve", "_selected_action": [request.pk]},
        follow=True,
    )
    assertContains(response, "承認しました")
    assert user.contracts.filter(pk=second.pk).exists()


def test_a_nayoro_member_can_ask_for_qualified_invoice_details(client):
    """Nayoro asks no tax question at signup, but issues invoices: 会員情報 must offer it."""
    from billing.models import MeterReading
    from tests.factories import ContractLinkFactory, MeterReadingFactory

    nayoro = UtilityFactory(code_style=True, invoice_registration_number="T9000000000025")
    member = MemberFactory(utility=nayoro, login_id="", email="hanako@example.jp")
    contract = ContractLinkFactory(member=member).customer
    reading = MeterReadingFactory(customer=contract)
    client.force_login(member)
    profile = client.get(reverse("accounts:profile", args=[nayoro.slug]))
    assertContains(profile, "消費税申告の有無")
    period = reverse("billing:period", args=[nayoro.slug, contract.number, reading.period_end])
    assertNotContains(client.get(period), "T9000000000025")
    response = client.post(
        reverse("accounts:profile_tax", args=[nayoro.slug]), {"tax_declaration": "yes"}
    )
    assert response.status_code == 302
    assertContains(client.get(period), "T9000000000025")
    assert MeterReading.objects.count() == 1


def test_a_nayoro_member_changes_the_nickname_used_in_notices(client):
    nayoro = UtilityFactory(code_style=True)
    member = MemberFactory(utility=nayoro, login_id="", email="hanako@example.jp", name="はなこ")
    client.force_login(member)
    assertContains(client.get(url(nayoro, "profile")), url(nayoro, "profile_name"))
    response = client.post(url(nayoro, "profile_name"), {"name": "　ハナちゃん　"}, follow=True)
    assertContains(response, "お名前を変更しました。")
    member.refresh_from_db()
    assert member.name == "ハナちゃん"
    assert member.events.filter(action="name_changed").exists()
    assertContains(
        client.post(url(nayoro, "profile_name"), {"name": ""}), "お名前を入力してください。"
    )


def test_a_utility_whose_names_are_contract_names_has_no_name_page(logged_in_client, utility):
    assert logged_in_client.get(url(utility, "profile_name")).status_code == HTTPStatus.NOT_FOUND


def _labels(response) -> list[str]:
    return [str(bound.label) for bound in response.context["form"]]


def test_contract_add_asks_what_each_utilitys_signup_identifies_a_contract_by(
    client, logged_in_client, user, nayoro, nayoro_member
):
    """Kanazawa ⑥: number, name, address, phone; Nayoro 2/4: number, phone, kana (its
    お名前 is a nickname and identifies no contract)."""
    kanazawa = _labels(logged_in_client.get(url(user.utility, "profile_contract_add")))
    assert kanazawa == ["ポータル登録番号", "お客さま名", "住所(市町村名・番地)", "連絡先電話番号"]
    client.force_login(nayoro_member)
    response = client.get(url(nayoro, "profile_contract_add"))
    assert _labels(response) == ["お客様番号", "電話番号", "お客様氏名カナ"]
    assertContains(response, "ハイフン抜きで入力してください。")  # its signup's own hint
    assertNotContains(response, "お客さま名")


def test_nayoro_adds_a_contract_without_any_name_but_the_kana(client, nayoro, nayoro_member):
    client.force_login(nayoro_member)
    second = CustomerFactory(utility=nayoro, name_kana="スイドウ ハナコ")
    response = client.post(
        url(nayoro, "profile_contract_add"),
        {"customer_number": second.number, "phone": second.phone, "name_kana": "すいどうはなこ"},
    )
    assertRedirects(response, url(nayoro, "profile"))
    assert nayoro_member.contracts.filter(pk=second.pk).exists()
    refused = client.post(
        url(nayoro, "profile_contract_add"),
        {"customer_number": "20000000999", "phone": second.phone, "name_kana": "Hanako"},
    )
    assertContains(refused, "お客様氏名カナはカタカナで入力してください")


def test_the_profile_note_names_only_rows_the_page_shows(client, user, nayoro_member):
    """Finding 9 (issue 15 review): Nayoro's 会員情報 said 「住所・電話番号の変更は…」 but shows
    and asks no 住所."""
    nayoro_member.name_kana = "スイドウ タロウ"
    nayoro_member.save()
    client.force_login(nayoro_member)
    nayoro = client.get(url(nayoro_member.utility, "profile"))
    assertNotContains(nayoro, "<dt>住所</dt>")
    assertContains(nayoro, "お客様氏名カナ・電話番号の変更は、お問い合わせ先へご連絡ください。")
    assertNotContains(nayoro, "住所・電話番号の変更")
    client.force_login(user)
    kanazawa = client.get(url(user.utility, "profile"))
    assertContains(kanazawa, "<dt>住所</dt>")
    assertContains(kanazawa, "お名前・住所・電話番号の変更は、お問い合わせ先へご連絡ください。")
