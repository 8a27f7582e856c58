"""A resident who withdrew (退会) can register again with the same address and login ID."""

from __future__ import annotations

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import Member
from tests.factories import MemberFactory
from tests.helpers import EMAIL, kanazawa_contract, sign_up

pytestmark = pytest.mark.django_db


def test_withdrawn_member_can_sign_up_again_and_staff_keep_the_old_record(
    client, utility, mailoutbox
):
    old = MemberFactory(
        utility=utility, email=EMAIL, login_id="taro0401", status=Member.Status.WITHDRAWN
    )
    contract = kanazawa_contract(utility)
    sign_up(client, utility, mailoutbox, contract)
    new = Member.objects.exclude(pk=old.pk).get(utility=utility, email=EMAIL)
    assert new.login_id == "taro0401"
    assert new.status == Member.Status.PENDING
    old.refresh_from_db()
    assert old.status == Member.Status.WITHDRAWN
    # The login page now speaks of the new registration, not the withdrawn one.
    response = client.post(
        reverse("accounts:login", args=[utility.slug]),
        {"identifier": "taro0401", "password": "mizu2025ab"},
    )
    assertContains(response, "現在、登録内容を確認中です")


def test_an_active_member_still_holds_its_address(client, utility, mailoutbox):
    MemberFactory(utility=utility, email=EMAIL, login_id="taro0401")
    kanazawa_contract(utility)
    client.post(
        reverse("accounts:signup", args=[utility.slug]),
        {"email": EMAIL, "email_confirm": EMAIL, "agree_terms": "on"},
    )
    # No signup URL: the mail tells the owner it already has an account.
    assert "signup/link/" not in mailoutbox[-1].body
    assert Member.objects.filter(utility=utility, email=EMAIL).count() == 1
