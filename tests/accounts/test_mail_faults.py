"""The mail server down at each step that sends mail (issue #7): the resident is told, nothing
half-made is left, and the same step works once mail is back."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import EmailChallenge, Member, MemberEvent
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, UtilityFactory
from tests.helpers import refuse_mail

pytestmark = pytest.mark.django_db


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


@pytest.mark.parametrize("code_style", [False, True], ids=["link", "code"])
def test_email_change_with_mail_down_is_told_leaves_nothing_and_works_later(
    client, mailoutbox, monkeypatch, code_style
):
    utility = UtilityFactory(code_style=code_style) if code_style else UtilityFactory()
    member = MemberFactory(utility=utility, email="old@example.jp")
    client.force_login(member)
    data = {"new_email": "new@example.jp", "new_email_confirm": "new@example.jp"}
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        response = client.post(url(utility, "profile_email"), data)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assertContains(response, "送信できませんでした", status_code=503)
    assert not EmailChallenge.objects.filter(member=member).exists()
    member.refresh_from_db()
    assert member.email == "old@example.jp"
    # Mail is back: the same step sends the proof to the new address.
    response = client.post(url(utility, "profile_email"), data)
    assert response.status_code == HTTPStatus.FOUND
    assert mailoutbox[-1].to == ["new@example.jp"]


def test_reset_request_with_mail_down_shows_the_same_page_and_staff_see_the_failure(
    client, mailoutbox, monkeypatch
):
    utility = UtilityFactory(code_style=True)
    member = MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        down = client.post(url(utility, "recovery"), {"email": "taro@example.jp"})
    unknown = client.post(url(utility, "recovery"), {"email": "nobody@example.jp"})
    # No enumeration: the answer is the same for a failed mail and an unknown address.
    assert down.status_code == unknown.status_code == HTTPStatus.FOUND
    assert down["Location"] == unknown["Location"]
    assert MemberEvent.objects.filter(member=member, action="mail_failed").exists()
    # Mail is back: asking again sends the code.
    client.post(url(utility, "recovery"), {"email": "taro@example.jp"})
    assert mailoutbox and mailoutbox[-1].to == ["taro@example.jp"]


def test_withdrawal_with_mail_down_still_withdraws_and_records_the_failure(client, monkeypatch):
    utility = UtilityFactory()
    member = MemberFactory(utility=utility)
    client.force_login(member)
    client.post(url(utility, "profile_withdraw"), {"current_password": PASSWORD})
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        response = client.post(url(utility, "profile_withdraw_confirm"))
    assert response.status_code == HTTPStatus.FOUND
    member.refresh_from_db()
    assert member.status == Member.Status.WITHDRAWN
    assert MemberEvent.objects.filter(member=member, action="mail_failed").exists()
