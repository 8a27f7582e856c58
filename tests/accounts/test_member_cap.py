"""Families may share a contract, but not without limit (issue 14, item 9).

Past the utility's ``max_members_per_contract`` a new member or an added contract waits for
staff instead of being activated at once.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from accounts.models import ContractRequest, Member, MemberEvent
from tests.factories import ContractLinkFactory, CustomerFactory, MemberFactory, UtilityFactory
from tests.helpers import reach_code_details, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def nayoro():
    return UtilityFactory(code_style=True, max_members_per_contract=2)


@pytest.fixture
def contract(nayoro):
    return CustomerFactory(
        utility=nayoro, number="20000000001", name_kana="スイドウ タロウ", phone="0165412345"
    )


def sign_up(nayoro, contract, mailoutbox, email: str):
    browser = Client()
    reach_code_details(browser, nayoro, mailoutbox, email)
    browser.post(
        url("signup_confirm", nayoro),
        {
            "name": "水道",
            "password": "Nayoro#2026",
            "password_confirm": "Nayoro#2026",
            "customer_number": contract.number,
            "phone": contract.phone,
            "name_kana": contract.name_kana,
            "agree_terms": "on",
            "agree_privacy": "on",
            "relation": "family",
            "payment_method": "keep",
        },
    )
    response = browser.post(url("signup_complete", nayoro))
    assert response.status_code == HTTPStatus.FOUND
    return browser.get(response["Location"])


def test_members_up_to_the_cap_are_let_in_at_once_the_next_waits_for_staff(
    nayoro, contract, mailoutbox
):
    for n in range(2):
        sign_up(nayoro, contract, mailoutbox, f"family{n}@example.jp")
    done = sign_up(nayoro, contract, mailoutbox, "family2@example.jp")
    statuses = list(
        Member.objects.filter(utility=nayoro).order_by("pk").values_list("status", flat=True)
    )
    assert statuses == [Member.Status.ACTIVE, Member.Status.ACTIVE, Member.Status.PENDING]
    third = Member.objects.get(email="family2@example.jp")
    assert not third.contract_links.exists()
    assert MemberEvent.objects.filter(member=third, action="member_cap_reached").exists()
    assert "確認" in done.content.decode()


def test_a_withdrawn_member_frees_a_place(nayoro, contract, mailoutbox):
    ContractLinkFactory(
        member=MemberFactory(utility=nayoro, status=Member.Status.WITHDRAWN), customer=contract
    )
    ContractLinkFactory(member=MemberFactory(utility=nayoro), customer=contract)
    sign_up(nayoro, contract, mailoutbox, "family9@example.jp")
    assert Member.objects.get(email="family9@example.jp").status == Member.Status.ACTIVE


def test_adding_a_full_contract_from_the_profile_goes_to_staff(nayoro, contract, client):
    for _ in range(2):
        ContractLinkFactory(member=MemberFactory(utility=nayoro), customer=contract)
    member = MemberFactory(utility=nayoro, login_id="", email="late@example.jp")
    client.force_login(member)
    response = client.post(
        url("profile_contract_add", nayoro),
        {
            "customer_number": contract.number,
            "name": "水道 太郎",
            "phone": contract.phone,
            "name_kana": "スイドウタロウ",
        },
        follow=True,
    )
    assert "契約の追加を受け付けました" in response.content.decode()
    assert not member.contract_links.exists()
    assert ContractRequest.objects.filter(member=member, customer=contract).exists()
