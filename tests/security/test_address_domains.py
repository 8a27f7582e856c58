"""An address whose domain is an IP literal or a single label is refused wherever one is
typed (findings 14b-5).

The second outside attack: ``x@[10.0.0.5]``, ``x@[169.254.169.254]`` and ``x@localhost`` were
accepted at both signups, the Nayoro recovery and the email change of both utilities, and the
mail was handed to the relay for <x@[10.0.0.5]>: the relay was made to connect to internal
hosts and the cloud metadata address, and each literal was a limit bucket of its own. No
resident has such an address; it is refused beside the field, as a quoted local part is.
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

MESSAGE = (
    "メールアドレスの「@」より後ろには、「example.jp」のようなドメイン名を入力してください"
    "(IPアドレスや「localhost」は使えません)。"
)
NOT_A_DOMAIN_NAME = [
    "x@[10.0.0.5]",
    "x@[169.254.169.254]",
    "x@localhost",
    "x@[IPv6:2001:db8::1]",
    "x@1.2.3.45",  # Django takes 45 for a top-level domain
    "x@ＬＯＣＡＬＨＯＳＴ",
]


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


def said_next_to(response, field: str) -> None:
    assert response.status_code == HTTPStatus.OK
    assert MESSAGE in response.context["form"].errors[field]
    assert escape(MESSAGE) in response.content.decode()


@pytest.fixture
def nayoro():
    utility = UtilityFactory(code_style=True, slug="nayoro")
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    return utility


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa")


@pytest.mark.parametrize("typed", NOT_A_DOMAIN_NAME)
def test_nayoro_signup_refuses_it_and_hands_no_mail_to_the_relay(nayoro, mailoutbox, typed):
    response = Client().post(url(nayoro, "signup"), {"email": typed})
    said_next_to(response, "email")
    assert mailoutbox == []
    assert not EmailChallenge.objects.exists()


@pytest.mark.parametrize("typed", NOT_A_DOMAIN_NAME)
def test_kanazawa_signup_refuses_it(kanazawa, mailoutbox, typed):
    response = Client().post(
        url(kanazawa, "signup"), {"email": typed, "email_confirm": typed, "agree_terms": "on"}
    )
    said_next_to(response, "email")
    assert mailoutbox == []


@pytest.mark.parametrize("typed", NOT_A_DOMAIN_NAME)
def test_nayoro_recovery_refuses_it(nayoro, mailoutbox, typed):
    response = Client().post(url(nayoro, "recovery"), {"email": typed})
    said_next_to(response, "email")
    assert mailoutbox == []


def test_kanazawa_recovery_refuses_it(kanazawa):
    response = Client().post(
        url(kanazawa, "recovery"), {"email": "x@[10.0.0.5]", "customer_number": "10000000000001"}
    )
    said_next_to(response, "email")


@pytest.mark.parametrize("city", ["kanazawa", "nayoro"])
@pytest.mark.parametrize("typed", ["x@[10.0.0.5]", "x@localhost"])
def test_the_email_change_of_both_utilities_refuses_it(client, mailoutbox, city, typed):
    utility = UtilityFactory(code_style=city == "nayoro", slug=city)
    member = MemberFactory(utility=utility, email=f"member@{city}.example.jp")
    client.force_login(member)
    response = client.post(
        url(utility, "profile_email"),
        {"current_password": "suido2026", "new_email": typed, "new_email_confirm": typed},
    )
    said_next_to(response, "new_email")
    assert mailoutbox == []
    member.refresh_from_db()
    assert member.email == f"member@{city}.example.jp"


def test_the_email_login_refuses_it_beside_the_field(nayoro):
    response = Client().post(
        url(nayoro, "login"), {"identifier": "x@[10.0.0.5]", "password": PASSWORD}
    )
    said_next_to(response, "identifier")


def test_an_ordinary_address_with_a_subdomain_is_still_an_address(nayoro, mailoutbox):
    response = Client().post(url(nayoro, "signup"), {"email": "hanako@mail.example.co.jp"})
    assert response.status_code == HTTPStatus.FOUND
    assert mailoutbox[0].to == ["hanako@mail.example.co.jp"]


def _member_page(member: Member, email: str) -> dict:
    return {
        "status": member.status,
        "utility": member.utility_id,
        "login_id": member.login_id,
        "email": email,
        "name": member.name,
        "phone": member.phone,
        "contract_links-TOTAL_FORMS": "0",
        "contract_links-INITIAL_FORMS": "0",
        "contract_requests-TOTAL_FORMS": "0",
        "contract_requests-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "_save": "保存",
    }


def test_staff_cannot_give_a_member_such_an_address(client, kanazawa):
    member = MemberFactory(utility=kanazawa, email="taro@example.jp")
    client.force_login(StaffFactory(utility=kanazawa, is_superuser=True))
    response = client.post(
        reverse("admin:accounts_member_change", args=[member.pk]),
        _member_page(member, "x@[169.254.169.254]"),
    )
    assert response.status_code == HTTPStatus.OK
    assert escape(MESSAGE) in response.content.decode()
    member.refresh_from_db()
    assert member.email == "taro@example.jp"


def test_staff_cannot_give_their_utility_such_an_inquiry_address(client, kanazawa):
    client.force_login(StaffFactory(utility=kanazawa, is_superuser=True))
    page = client.get(reverse("admin:portal_utility_change", args=[kanazawa.pk]))
    form = page.context["adminform"].form
    data = {
        name: "" if value is None else value
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update(inquiry_email="x@localhost", sender_email="noreply@[10.0.0.5]", _save="保存")
    response = client.post(reverse("admin:portal_utility_change", args=[kanazawa.pk]), data)
    assert response.status_code == HTTPStatus.OK
    errors = response.context["adminform"].form.errors
    assert errors["inquiry_email"] == [MESSAGE]
    assert errors["sender_email"] == [MESSAGE]
