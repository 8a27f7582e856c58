"""Staff review a member's 契約の追加 request on its own admin page, as they review members:
the typed values against the contract with ○/×, and 「承認」 / 「差し戻し」 beside them."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import ContractLink, ContractRequest
from accounts.services.matching import match_contract
from tests.factories import ContractLinkFactory, CustomerFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")


def make_staff(utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=["view_contractrequest", "change_contractrequest"],
        )
    )
    return staff


@pytest.fixture
def member(utility):
    return ContractLinkFactory(member__utility=utility).member


@pytest.fixture
def second(utility):
    return CustomerFactory(
        utility=utility,
        number="10000000000009",
        name="水道 花子",
        phone="0762222222",
        address="金沢市広坂2丁目2-2",
    )


def request_for(member, contract, **typed):
    values = {
        "name": contract.name,
        "phone": "0769999999",
        "address": "金沢市広坂2丁目2番2号",
        **typed,
    }
    with time_machine.travel(datetime.datetime(2025, 4, 2, 0, 30, tzinfo=datetime.UTC)):
        return ContractRequest.objects.create(
            member=member,
            customer=contract,
            customer_number=contract.number,
            match=match_contract(member.utility, contract.number, **values),
            **values,
        )


def change_page(client, contract_request):
    return client.get(reverse("admin:accounts_contractrequest_change", args=[contract_request.pk]))


def test_the_request_page_sets_typed_and_contract_values_side_by_side(
    client, utility, member, second
):
    contract_request = request_for(member, second)
    client.force_login(make_staff(utility))
    response = change_page(client, contract_request)
    html = response.content.decode()
    table = html[html.index('class="match-table"') :]
    table = table[: table.index("</table>")]
    for words in ["入力された値", "契約の値", "電話", "0769999999", "0762222222", "×", "○"]:
        assert words in table, words
    assert "金沢市広坂2丁目2番2号" in table and "金沢市広坂2丁目2-2" in table
    # Local time in Japanese, the contract and member by name, no English or bare ids.
    assertContains(response, "2025年4月2日 09:30")
    assertContains(response, "10000000000009 水道 花子")
    for english in ["Pending", "None", "Customer", "Member"]:
        assertNotContains(response, f">{english}<")
    assertContains(response, "承認</button>")
    assertContains(response, "差し戻し</button>")


def test_approve_on_the_request_page_links_the_contract(
    client, utility, member, second, mailoutbox
):
    contract_request = request_for(member, second)
    client.force_login(make_staff(utility))
    page = reverse("admin:accounts_contractrequest_change", args=[contract_request.pk])
    response = client.post(
        reverse("admin:accounts_contractrequest_approve", args=[contract_request.pk])
    )
    assertRedirects(response, page)
    contract_request.refresh_from_db()
    assert contract_request.status == ContractRequest.Status.APPROVED
    assert ContractLink.objects.filter(member=member, customer=second).exists()
    assert len(mailoutbox) == 1
    assertNotContains(client.get(page), "承認</button>")  # reviewed: no more buttons


def test_send_back_on_the_request_page_rejects_it(client, utility, member, second, mailoutbox):
    contract_request = request_for(member, second)
    client.force_login(make_staff(utility))
    client.post(reverse("admin:accounts_contractrequest_reject", args=[contract_request.pk]))
    contract_request.refresh_from_db()
    assert contract_request.status == ContractRequest.Status.REJECTED
    assert not ContractLink.objects.filter(member=member, customer=second).exists()
    assert len(mailoutbox) == 1


def test_the_buttons_do_not_reach_another_utilitys_request(client, utility, member, second):
    contract_request = request_for(member, second)
    client.force_login(make_staff(UtilityFactory()))
    for name in ("approve", "reject"):
        response = client.post(
            reverse(f"admin:accounts_contractrequest_{name}", args=[contract_request.pk])
        )
        assert response.status_code == 404
    contract_request.refresh_from_db()
    assert contract_request.status == ContractRequest.Status.PENDING
    assert client.get(
        reverse("admin:accounts_contractrequest_approve", args=[contract_request.pk])
    ).status_code in (404, 405)
