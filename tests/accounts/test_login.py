from __future__ import annotations

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import Member
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db


def login_url(utility) -> str:
    return reverse("accounts:login", args=[utility.slug])


def test_login_page_shows_the_seed_words_for_login_id_utilities(client, utility):
    response = client.get(login_url(utility))
    for words in [
        "初めて利用されるお客さま",
        "会員登録する",
        "ログインID",
        "パスワード",
        "次回からIDの入力を省略",
        "ログイン",
        "ログインID/パスワードを忘れた方はこちら",
    ]:
        assertContains(response, words)
    assertContains(response, '<label for="id_identifier">ログインID</label>', html=False)


def test_login_page_shows_the_seed_words_for_email_utilities(client):
    utility = UtilityFactory(code_style=True)
    response = client.get(login_url(utility))
    for words in [
        "メールアドレス",
        "パスワード",
        "ログイン",
        "パスワードを忘れた場合はこちら",
        "初めての方はこちら",
    ]:
        assertContains(response, words)
    assertNotContains(response, "次回からIDの入力を省略")
    assertNotContains(response, "会員登録する")


def test_active_member_logs_in_and_lands_on_the_dashboard(client, user):
    response = client.post(
        login_url(user.utility), {"identifier": user.login_id.upper(), "password": PASSWORD}
    )
    assertRedirects(response, reverse("billing:dashboard", args=[user.utility.slug]))
    assert client.session["_auth_user_id"] == str(user.pk)


def test_email_utility_member_logs_in_with_the_address(client):
    utility = UtilityFactory(code_style=True)
    member = MemberFactory(utility=utility, login_id="", email="Taro@Example.jp")
    response = client.post(
        login_url(utility), {"identifier": "taro@example.jp", "password": PASSWORD}
    )
    assertRedirects(response, reverse("billing:dashboard", args=[utility.slug]))
    assert client.session["_auth_user_id"] == str(member.pk)


def test_wrong_password_gets_a_japanese_message_and_no_session(client, user):
    response = client.post(
        login_url(user.utility), {"identifier": user.login_id, "password": "wrong-pass1"}
    )
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "ログインIDまたはパスワードが正しくありません。")
    assert "_auth_user_id" not in client.session


def test_unknown_login_id_gets_the_same_message_as_a_wrong_password(client, utility):
    response = client.post(login_url(utility), {"identifier": "nobody99", "password": PASSWORD})
    assertContains(response, "ログインIDまたはパスワードが正しくありません。")


def test_same_login_id_in_two_utilities_is_two_people(client):
    here, there = UtilityFactory(), UtilityFactory()
    MemberFactory(utility=here, login_id="suidotaro", password="herepass1")
    theirs = MemberFactory(utility=there, login_id="suidotaro", password="therepass1")
    response = client.post(login_url(here), {"identifier": "suidotaro", "password": "therepass1"})
    assertContains(response, "ログインIDまたはパスワードが正しくありません。")
    response = client.post(login_url(there), {"identifier": "suidotaro", "password": "therepass1"})
    assert client.session["_auth_user_id"] == str(theirs.pk)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (Member.Status.PENDING, "現在、登録内容を確認中です"),
        (Member.Status.REJECTED, "承認されませんでした"),
        (Member.Status.WITHDRAWN, "退会済み"),
    ],
)
def test_member_not_active_is_told_why_and_not_logged_in(client, utility, status, message):
    member = MemberFactory(utility=utility, status=status)
    response = client.post(
        login_url(utility), {"identifier": member.login_id, "password": PASSWORD}
    )
    assertContains(response, message)
    assert "_auth_user_id" not in client.session


def test_remember_id_keeps_only_the_id_in_a_signed_cookie(client, user):
    client.post(
        login_url(user.utility),
        {"identifier": user.login_id, "password": PASSWORD, "remember_id": "on"},
    )
    cookie = client.cookies[settings.PORTAL_REMEMBER_ID_COOKIE]
    assert PASSWORD not in cookie.value
    assert cookie["path"] == f"/{user.utility.slug}/"
    assert cookie["httponly"]
    client.post(reverse("accounts:logout", args=[user.utility.slug]))
    response = client.get(login_url(user.utility))
    assertContains(response, f'value="{user.login_id}"')
    assertContains(response, 'name="remember_id" id="id_remember_id" checked', html=False)


def test_tampered_remember_id_cookie_is_ignored(client, utility):
    client.cookies[settings.PORTAL_REMEMBER_ID_COOKIE] = "attacker:forged"
    response = client.get(login_url(utility))
    assertNotContains(response, "attacker")


def test_logout_is_post_only(logged_in_client, user):
    url = reverse("accounts:logout", args=[user.utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert "_auth_user_id" in logged_in_client.session
    response = logged_in_client.post(url)
    assertRedirects(response, login_url(user.utility), fetch_redirect_response=False)
    assert "_auth_user_id" not in logged_in_client.session


def test_repeated_failures_lock_the_login_id_with_a_japanese_message(client, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post(
            login_url(user.utility), {"identifier": user.login_id, "password": "wrong-pass1"}
        )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assertContains(response, "一時的に停止", status_code=429)
    # Even the right password is refused while locked.
    response = client.post(
        login_url(user.utility), {"identifier": user.login_id, "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "_auth_user_id" not in client.session


def test_lockout_of_an_id_in_one_utility_does_not_lock_the_same_id_elsewhere(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    here, there = UtilityFactory(), UtilityFactory()
    MemberFactory(utility=here, login_id="suidotaro")
    MemberFactory(utility=there, login_id="suidotaro")
    for _ in range(2):
        client.post(login_url(here), {"identifier": "suidotaro", "password": "wrong-pass1"})
    response = client.post(login_url(there), {"identifier": "suidotaro", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND


def test_a_member_of_another_utility_is_sent_to_this_utilitys_login(client, user):
    other = UtilityFactory()
    client.force_login(user)
    response = client.get(reverse("billing:dashboard", args=[other.slug]))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(login_url(other))


def test_staff_do_not_see_residents_pages(client, utility):
    client.force_login(StaffFactory(utility=utility))
    response = client.get(reverse("billing:dashboard", args=[utility.slug]))
    assert response.status_code == HTTPStatus.FOUND


def test_next_is_honoured_only_for_this_host(client, user):
    url = login_url(user.utility) + "?next=https://evil.example/steal"
    response = client.post(url, {"identifier": user.login_id, "password": PASSWORD})
    assertRedirects(response, reverse("billing:dashboard", args=[user.utility.slug]))
