"""Quoted and escaped local parts (``"taro"@example.jp``) are refused wherever an address is typed.

The outside attack: ``"bombtest2375"@example.jp`` and ``"\\bombtest2375"@example.jp`` are
delivered to bombtest2375@example.jp, yet each had a per-recipient mail limit of its own, and
``"act09_2"@example.jp`` got a signup code instead of the "already registered" mail. No
resident has such an address; refusing it leaves one spelling per mailbox for the limits
and the "already registered" check.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import EmailChallenge, Member
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

MESSAGE = 'メールアドレスの「@」より前に「"」や「\\」は使えません。'
QUOTED = ['"bombtest2375"@example.jp', '"\\bombtest2375"@example.jp', '"act09_2"@example.jp']


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


def said_next_to(response, field: str) -> None:
    """The message is the field's own error (shown beside it), on the form page again."""
    assert response.status_code == HTTPStatus.OK
    assert MESSAGE in response.context["form"].errors[field]
    assert escape(MESSAGE) in response.content.decode()


@pytest.mark.parametrize("typed", QUOTED)
def test_code_signup_refuses_a_quoted_address_and_mails_nothing(mailoutbox, typed):
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="act09_2@example.jp")
    response = Client().post(url(utility, "signup"), {"email": typed})
    said_next_to(response, "email")
    assert mailoutbox == []
    assert not EmailChallenge.objects.exists()


def test_the_per_address_limit_sees_one_mailbox(settings, mailoutbox):
    settings.PORTAL_SIGNUP_MAIL_RATE_PER_EMAIL = "3/h"
    settings.PORTAL_SIGNUP_CODE_COOLDOWN_SECONDS = 0
    utility = UtilityFactory(code_style=True)
    spellings = ["bombtest2375@example.jp", *QUOTED[:2], "BombTest2375@example.jp"] * 2
    for n, typed in enumerate(spellings):
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(url(utility, "signup"), {"email": typed})
    assert len(mailoutbox) == 3
    assert {m.to[0].lower() for m in mailoutbox} == {"bombtest2375@example.jp"}


def test_link_signup_refuses_a_quoted_address(mailoutbox):
    utility = UtilityFactory()
    typed = '"taro"@example.jp'
    response = Client().post(
        url(utility, "signup"), {"email": typed, "email_confirm": typed, "agree_terms": "on"}
    )
    said_next_to(response, "email")
    assert mailoutbox == []


def test_email_login_refuses_a_quoted_address_beside_the_field():
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    response = Client().post(
        url(utility, "login"), {"identifier": '"taro"@example.jp', "password": PASSWORD}
    )
    said_next_to(response, "identifier")
    assert "_auth_user_id" not in Client().session


def test_recovery_by_email_refuses_a_quoted_address(mailoutbox):
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    response = Client().post(url(utility, "recovery"), {"email": '"taro"@example.jp'})
    said_next_to(response, "email")
    assert mailoutbox == []


def test_recovery_by_secret_question_refuses_a_quoted_address():
    utility = UtilityFactory()
    response = Client().post(
        url(utility, "recovery"),
        {"email": '"taro"@example.jp', "customer_number": "10000000000001"},
    )
    said_next_to(response, "email")


def test_email_change_refuses_a_quoted_address(client, user, mailoutbox):
    client.force_login(user)
    typed = '"hanako"@example.jp'
    response = client.post(
        url(user.utility, "profile_email"),
        {"current_password": "suido2026", "new_email": typed, "new_email_confirm": typed},
    )
    said_next_to(response, "new_email")
    assert mailoutbox == []


def test_staff_cannot_give_a_member_a_quoted_address(client, user):
    staff = StaffFactory(utility=user.utility, is_superuser=True)
    client.force_login(staff)
    response = client.post(
        reverse("admin:accounts_member_change", args=[user.pk]),
        {
            "status": user.status,
            "utility": user.utility_id,
            "login_id": user.login_id,
            "email": '"taro"@example.jp',
            "name": user.name,
            "phone": user.phone,
            "contract_links-TOTAL_FORMS": "0",
            "contract_links-INITIAL_FORMS": "0",
            "contract_requests-TOTAL_FORMS": "0",
            "contract_requests-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
            "_save": "保存",
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert escape(MESSAGE) in response.content.decode()
    user.refresh_from_db()
    assert '"' not in user.email
    assert Member.objects.filter(email__contains='"').count() == 0
