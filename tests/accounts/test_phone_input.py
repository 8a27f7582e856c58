"""Phones as residents and staff type them: brackets, full width and hyphens of every shape.

Each utility's hint and message say it in its own guide's words (Nayoro: ハイフンを除いた数字で).
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import ContractLink, ContractRequest, Member
from billing.models import Customer
from portal import normalize
from tests.factories import CustomerFactory, MemberFactory, StaffFactory, UtilityFactory
from tests.helpers import CODE_EMAIL, reach_code_details, sign_up, url

pytestmark = pytest.mark.django_db

NAYORO_TYPED = "(0165)42-6128"  # as the outside review typed it on 契約の追加
KANAZAWA_TYPED = "（０７６）１３０−７９６１"  # on Kanazawa ⑥, in full width


@pytest.fixture
def kanazawa(db):
    return UtilityFactory()


@pytest.fixture
def nayoro(db):
    return UtilityFactory(code_style=True)


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("(0165)42-6128", "0165426128"),
        ("（０７６）１３０−７９６１", "0761307961"),
        ("076(220)2111", "0762202111"),
        ("０１６５－４２－６１２８", "0165426128"),
        ("090 1234 5678", "09012345678"),
        ("(090)ｰ1234ｰ5678", "09012345678"),
    ],
)
def test_a_phone_is_its_digits_whatever_the_brackets_hyphens_and_width(typed, phone):
    assert normalize.phone(typed) == phone


def test_kanazawa_signup_takes_a_phone_with_full_width_brackets(client, kanazawa, mailoutbox):
    contract = CustomerFactory(utility=kanazawa, number="10000000000001", phone="0761307961")
    done = sign_up(client, kanazawa, mailoutbox, contract, phone=KANAZAWA_TYPED)
    assertRedirects(done, url("signup_done", kanazawa))
    member = Member.objects.get(utility=kanazawa, login_id="taro0401")
    assert member.phone == "0761307961"
    assert member.signup_match["phone"] is True


def nayoro_details(contract, **overrides) -> dict:
    data = {
        "name": "水道太郎",
        "password": "Nayoro#2025",
        "password_confirm": "Nayoro#2025",
        "customer_number": contract.number,
        "phone": contract.phone,
        "name_kana": contract.name_kana,
        "agree_terms": "on",
        "agree_privacy": "on",
        "relation": "self",
        "payment_method": "keep",
    }
    return {**data, **overrides}


def test_nayoro_signup_takes_a_phone_with_brackets(client, nayoro, mailoutbox):
    contract = CustomerFactory(utility=nayoro, phone="0165426128")
    reach_code_details(client, nayoro, mailoutbox)
    confirm = client.post(
        url("signup_confirm", nayoro), nayoro_details(contract, phone=NAYORO_TYPED)
    )
    assert "form" not in confirm.context, confirm.context["form"].errors
    assertRedirects(client.post(url("signup_complete", nayoro)), url("signup_done", nayoro))
    member = Member.objects.get(utility=nayoro, email=CODE_EMAIL)
    assert ContractLink.objects.filter(member=member, customer=contract).exists()


def add_contract(client, utility, contract, phone: str):
    client.force_login(MemberFactory(utility=utility, login_id="", email="taro@example.jp"))
    data = {
        "customer_number": contract.number,
        "name": contract.name,
        "name_kana": contract.name_kana,
        "address": contract.address,
        "phone": phone,
    }
    return client.post(url("profile_contract_add", utility), data)


def test_nayoro_adds_a_contract_with_a_phone_in_brackets(client, nayoro):
    contract = CustomerFactory(utility=nayoro, phone="0165426128")
    response = add_contract(client, nayoro, contract, NAYORO_TYPED)
    assertRedirects(response, url("profile", nayoro))
    assert ContractLink.objects.filter(customer=contract).exists()


def test_kanazawa_adds_a_contract_with_a_phone_in_full_width_brackets(client, kanazawa):
    contract = CustomerFactory(utility=kanazawa, phone="0761307961")
    response = add_contract(client, kanazawa, contract, KANAZAWA_TYPED)
    assertRedirects(response, url("profile", kanazawa))
    request = ContractRequest.objects.get(customer=contract)
    assert (request.phone, request.match["phone"]) == ("0761307961", True)


def test_nayoros_phone_hint_and_message_say_it_without_hyphens(client, nayoro):
    client.force_login(MemberFactory(utility=nayoro, login_id="", email="taro@example.jp"))
    page = client.get(url("profile_contract_add", nayoro))
    assertContains(page, "ハイフンを除いた数字で入力してください。")
    assertNotContains(page, "[例]03-1234-5678")  # (the footer's number may have hyphens)
    refused = client.post(url("profile_contract_add", nayoro), {"phone": "0165-42"})
    assert refused.context["form"].errors["phone"] == [
        "電話番号は市外局番から10〜11桁の数字で入力してください。"
    ]
    assertNotContains(refused, "例: 03-1234-5678")


def test_kanazawas_phone_hint_keeps_its_guides_example(client, kanazawa):
    client.force_login(MemberFactory(utility=kanazawa))
    page = client.get(url("profile_contract_add", kanazawa))
    assertContains(page, "[例]03-1234-5678")


def test_staff_type_a_members_phone_with_brackets_and_digits_are_kept(client, kanazawa):
    staff = StaffFactory(utility=kanazawa)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_member", "change_member"]
        )
    )
    member = MemberFactory(utility=kanazawa, login_id="taro0401")
    client.force_login(staff)
    change_url = reverse("admin:accounts_member_change", args=[member.pk])
    form = client.get(change_url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "groups"}
    data.update(
        {
            "phone": KANAZAWA_TYPED,
            "contract_links-TOTAL_FORMS": "0",
            "contract_links-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    response = client.post(change_url, data)
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.phone == "0761307961"


def test_staff_type_a_contracts_phone_with_brackets_and_digits_are_kept(client, kanazawa):
    staff = StaffFactory(utility=kanazawa)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing", codename__in=["view_customer", "change_customer"]
        )
    )
    contract = CustomerFactory(utility=kanazawa)
    client.force_login(staff)
    change_url = reverse("admin:billing_customer_change", args=[contract.pk])
    form = client.get(change_url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data["phone"] = "076(220)2111"
    response = client.post(change_url, data)
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    assert Customer.objects.get(pk=contract.pk).phone == "0762202111"
