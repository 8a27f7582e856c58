"""本会員申請 compares what the resident typed with the utility's contract of that number."""

from __future__ import annotations

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from accounts.models import ContractLink, Member, MemberEvent
from accounts.services import matching as services
from portal.models import Utility
from tests.factories import CustomerFactory, UtilityFactory
from tests.helpers import EMAIL, kanazawa_contract, sign_up, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(utility):
    return kanazawa_contract(utility, address="金沢市広坂1丁目1-1", building="広坂ハイツ101")


def test_everything_typed_as_on_the_contract_matches(utility, contract):
    match = services.match_contract(
        utility, "10000000000001", "水道 太郎", "0761234567", "金沢市広坂1丁目1-1"
    )
    assert match == {
        "customer_id": contract.pk,
        "number": True,
        "name": True,
        "phone": True,
        "address": True,
    }


def test_width_spaces_and_hyphens_do_not_matter(utility, contract):
    match = services.match_contract(
        utility,
        number="１０００－００００ ００００ ０１",
        name="水道太郎",
        phone="０７６－１２３ ４５６７",
        address="金沢市広坂１丁目１－１",
    )
    assert match["number"] and match["name"] and match["phone"] and match["address"]


def test_each_difference_is_reported_on_its_own(utility, contract):
    match = services.match_contract(
        utility, "10000000000001", "水道 次郎", "0769999999", "金沢市本町1丁目1-1"
    )
    assert match == {
        "customer_id": contract.pk,
        "number": True,
        "name": False,
        "phone": False,
        "address": False,
    }


def test_an_unknown_number_finds_no_contract(utility, contract):
    match = services.match_contract(utility, "19999999999999", "水道 太郎", "0761234567")
    assert match["customer_id"] is None
    assert not any(value for key, value in match.items() if key != "customer_id")


def test_another_utilitys_contract_is_never_matched(utility, contract):
    elsewhere = UtilityFactory()
    match = services.match_contract(elsewhere, contract.number, contract.name, contract.phone)
    assert match["customer_id"] is None


def test_kana_utilities_compare_the_kana_not_the_nickname():
    utility = UtilityFactory(code_style=True)
    contract = CustomerFactory(utility=utility, name_kana="スイドウ タロウ", phone="0165412345")
    match = services.match_contract(
        utility,
        contract.number,
        name="たろちゃん",
        phone="01654-1-2345",
        name_kana="すいどう たろう",
    )
    assert match["name_kana"] is True
    assert services.identity_matches(utility, match)


def test_the_match_is_stored_with_the_member(client, utility, mailoutbox, contract):
    sign_up(client, utility, mailoutbox, contract, phone="076-999-9999")
    member = Member.objects.get(email=EMAIL)
    assert member.signup_match == {
        "customer_id": contract.pk,
        "number": True,
        "name": True,
        "phone": False,
        "address": True,
    }
    assert MemberEvent.objects.filter(member=member, action="signup").exists()


def test_auto_activation_with_a_full_match_lets_the_resident_in_at_once(client, mailoutbox):
    utility = UtilityFactory(activation=Utility.Activation.AUTO)
    contract = kanazawa_contract(utility)
    response = sign_up(client, utility, mailoutbox, contract)
    assertRedirects(response, url("signup_done", utility))
    assertContains(client.get(url("signup_done", utility)), "ログインいただき")
    member = Member.objects.get(email=EMAIL)
    assert member.status == Member.Status.ACTIVE
    link = ContractLink.objects.get(member=member)
    assert link.customer == contract and link.approved_by is None
    login = client.post(url("login", utility), {"identifier": "taro0401", "password": "mizu2025ab"})
    assertRedirects(login, reverse("billing:dashboard", args=[utility.slug]))


def test_auto_activation_without_a_full_match_waits_for_staff(client, mailoutbox):
    utility = UtilityFactory(activation=Utility.Activation.AUTO)
    contract = kanazawa_contract(utility)
    sign_up(client, utility, mailoutbox, contract, phone="0769999999")
    member = Member.objects.get(email=EMAIL)
    assert member.status == Member.Status.PENDING
    assert not member.contracts.exists()
    assert "後日お送りする「ご使用量等の確認についてのご案内」" in mailoutbox[-1].body


def test_a_nickname_is_never_compared_with_the_holders_name():
    """Seed 003: 「お名前」 is a free nickname; staff must not read 「氏名×」 as evidence."""
    utility = UtilityFactory(code_style=True)
    contract = CustomerFactory(utility=utility, name="水道 太郎", phone="0165412345")
    found = services.match_contract(
        utility,
        contract.number,
        name="たろちゃん",
        phone=contract.phone,
        name_kana="スイドウタロウ",
    )
    missing = services.match_contract(utility, "29999999999", name="たろちゃん")
    assert "name" not in found and "name" not in missing
    assert found == {"customer_id": contract.pk, "number": True, "phone": True, "name_kana": True}


@pytest.mark.parametrize(
    "typed",
    [
        "金沢市広坂1丁目2番3号",
        "金沢市広坂1丁目2番地3",
        "金沢市広坂1-2-3",
        "金沢市広坂１－２－３",
        "金沢市広坂１ー２ー３",  # the long-vowel mark an IME gives for a hyphen
        "金沢市広坂1‐2‐3",
        "金沢市広坂1−2−3",
        "金沢市広坂 1丁目 2-3",
    ],
)
def test_an_address_typed_with_chome_banchi_go_or_any_hyphen_matches(utility, typed):
    contract = kanazawa_contract(utility, address="金沢市広坂1丁目2-3")
    match = services.match_contract(
        utility, contract.number, contract.name, contract.phone, address=typed
    )
    assert match["address"] is True


def test_hyphens_still_separate_the_numbers_of_an_address(utility):
    contract = kanazawa_contract(utility, address="金沢市広坂1-23")
    match = services.match_contract(
        utility, contract.number, contract.name, contract.phone, address="金沢市広坂12-3"
    )
    assert match["address"] is False


@pytest.mark.parametrize(
    "typed", ["ジョン＝スミス", "ジョン=スミス", "ジョン・スミス", "じょん すみす"]
)
def test_a_kana_name_matches_whatever_break_the_contract_was_written_with(typed):
    utility = UtilityFactory(code_style=True)
    contract = CustomerFactory(utility=utility, name_kana="ジョン・スミス", phone="0165412345")
    match = services.match_contract(utility, contract.number, phone="0165412345", name_kana=typed)
    assert match["name_kana"] is True
