"""Finding a21 F1: a staff-typed new number that is an existing contract — another household's,
with its members and its history — is refused beside the field unless staff confirm it, and a
member it reaches sees only the periods from the application's day (the mirror of a move-out's
end)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import ContractLink
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    PaymentFactory,
    UtilityFactory,
)
from tests.moving.test_reach_contract import NEW_NUMBER, NOW, added, complete, move_in, staff_client

pytestmark = pytest.mark.django_db

BEFORE = datetime.date(2027, 2, 25)  # the household's period 2027-01-26〜2027-02-25
AFTER = datetime.date(2027, 4, 25)  # 2027-02-26〜2027-04-25: the move-in day 3/20 is in it


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa-t")


@pytest.fixture
def member(kanazawa):
    return MemberFactory(utility=kanazawa, email="newcomer@example.jp")


@pytest.fixture
def household(kanazawa):
    """Another household's long-standing contract: a member, readings and bills."""
    contract = CustomerFactory(
        utility=kanazawa, number=NEW_NUMBER, name="水道 太郎", address="金沢市東町9-9"
    )
    ContractLinkFactory(member=MemberFactory(utility=kanazawa), customer=contract)
    for end in (BEFORE, AFTER):
        MeterReadingFactory(customer=contract, period_end=end)
        PaymentFactory(customer=contract, period_end=end)
    return contract


def test_an_existing_contracts_number_is_refused_naming_what_is_there(
    client, kanazawa, member, household, mailoutbox
):
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    response = complete(client, application, NEW_NUMBER)
    assert response.status_code == 200
    assertContains(response, "この番号はすでにある契約です(水道 太郎 様、金沢市東町9-9")
    assertContains(
        response, "会員1人の紐づけ、2027年3月20日より前の検針2件、2027年3月20日より前の請求2件)"
    )
    assertContains(response, "すでにある契約と確かめた")
    application.refresh_from_db()
    assert application.status == "received" and not application.new_customer_number
    assert not member.contract_links.exists() and not mailoutbox


def test_a_confirmed_number_shows_the_member_only_the_periods_from_the_move_in(
    client, kanazawa, member, household, mailoutbox
):
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    response = complete(client, application, NEW_NUMBER, number_confirmed="on")
    assert response.status_code == 302
    link = ContractLink.objects.get(member=member)
    assert link.started_on == datetime.date(2027, 3, 20) and link.ended_on is None
    assert len(added(mailoutbox)) == 1
    client.force_login(member)

    def url(name, *args):
        return reverse(f"billing:{name}", args=[kanazawa.slug, NEW_NUMBER, *args])

    history = client.get(url("history"))
    assertContains(history, "全1件")
    assertNotContains(history, "2027年2月25日")
    assert client.get(url("period", BEFORE)).status_code == 404
    assert client.get(url("period", AFTER)).status_code == 200
    csv = b"".join(client.get(url("history_csv")).streaming_content).decode()
    assert "2027-04-25" in csv and "2027-02-25" not in csv
    assertContains(client.get(url("payments")), "全1件")
    assert client.get(url("slip_pdf", BEFORE)).status_code == 404
    assert client.get(url("receipt_pdf", BEFORE)).status_code == 404
    assert client.get(url("slip_pdf", AFTER)).status_code == 200
    # The household's own member still sees all of it.
    client.force_login(household.members.exclude(pk=member.pk).get())
    assertContains(client.get(url("history")), "2027年2月25日")


def test_a_new_contract_needs_no_confirmation(client, kanazawa, member, mailoutbox):
    CustomerFactory(utility=kanazawa, number=NEW_NUMBER)  # the CIS's new number, no history
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    assert complete(client, application, NEW_NUMBER).status_code == 302
    assert member.contract_links.get().started_on == datetime.date(2027, 3, 20)


def test_a_wrong_number_is_corrected_before_completion(client, kanazawa, member, household):
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    # Typed while 処理中 (confirmed by mistake): nothing reaches the member yet.
    complete(client, application, NEW_NUMBER, status="processing", number_confirmed="on")
    application.refresh_from_db()
    assert application.new_customer_number == NEW_NUMBER and not member.contract_links.exists()
    right = CustomerFactory(utility=kanazawa, number="10000000000888")
    assert complete(client, application, right.number).status_code == 302
    assert [link.customer for link in member.contract_links.all()] == [right]
