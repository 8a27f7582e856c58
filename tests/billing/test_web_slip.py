"""Web明細: a member stops or restarts the paper 検針票 of a contract; staff export the list."""

from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing.models import WebSlip
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MeterReadingFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=JST)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def offering(utility):
    utility.offers_web_slip = True
    utility.web_slip_text = "お申し込みの翌月の検針分から、紙の検針票をお届けしません。"
    utility.save()
    return utility


STOPPED_ON_6TH = 'Web明細(紙は<span class="nowrap">2026年12月6日</span>から停止)'


def choice_url(contract) -> str:
    return reverse("billing:web_slip_choice", args=[contract.utility.slug, contract.number])


def contract_page(client, contract):
    return client.get(reverse("billing:contract", args=[contract.utility.slug, contract.number]))


def test_a_member_stops_and_restarts_the_paper_slip(frozen, logged_in_client, user, offering):
    contract = user.contracts.get()
    MeterReadingFactory(customer=contract)
    response = contract_page(logged_in_client, contract)  # cached from here on
    assertContains(response, "紙でお届け")
    response = logged_in_client.get(choice_url(contract))
    assertContains(response, "お申し込みの翌月の検針分から")
    assertContains(response, "この契約の検針票は、紙でお届けしています。")
    response = logged_in_client.post(choice_url(contract), {"delivery": "web"})
    assert response.status_code == HTTPStatus.FOUND
    slip = WebSlip.objects.get(customer=contract)
    assert (slip.paper_stopped, slip.chosen_on, slip.chosen_by) == (True, NOW.date(), user)
    assertContains(contract_page(logged_in_client, contract), STOPPED_ON_6TH)
    profile = logged_in_client.get(reverse("accounts:profile", args=[offering.slug]))
    assertContains(profile, STOPPED_ON_6TH)

    frozen.move_to(NOW + datetime.timedelta(days=1))
    logged_in_client.logout()  # the next day: a new visit
    logged_in_client.force_login(user)
    logged_in_client.post(choice_url(contract), {"delivery": "paper"})
    slip.refresh_from_db()
    assert (slip.paper_stopped, slip.chosen_on) == (False, datetime.date(2026, 12, 7))
    assertContains(contract_page(logged_in_client, contract), "紙でお届け")
    response = logged_in_client.get(choice_url(contract))
    assertContains(
        response, '<span class="nowrap">2026年12月7日</span>のお申し込みで再開しています。'
    )


def test_choosing_the_same_again_keeps_the_first_day(frozen, logged_in_client, user, offering):
    contract = user.contracts.get()
    logged_in_client.post(choice_url(contract), {"delivery": "web"})
    frozen.move_to(NOW + datetime.timedelta(days=3))
    logged_in_client.post(choice_url(contract), {"delivery": "web"})
    assert WebSlip.objects.get().chosen_on == NOW.date()


def test_no_choice_is_told_beside_the_field(logged_in_client, user, offering):
    response = logged_in_client.post(choice_url(user.contracts.get()), {"delivery": "fax"})
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "受け取り方は一覧から選んでください。")
    response = logged_in_client.post(choice_url(user.contracts.get()), {})
    assertContains(response, "受け取り方を選んでください。")
    assert not WebSlip.objects.exists()


def test_nothing_is_offered_unless_the_utility_offers_it(logged_in_client, user, utility):
    contract = user.contracts.get()
    assert logged_in_client.get(choice_url(contract)).status_code == HTTPStatus.NOT_FOUND
    response = logged_in_client.post(choice_url(contract), {"delivery": "web"})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not WebSlip.objects.exists()
    profile = logged_in_client.get(reverse("accounts:profile", args=[utility.slug]))
    assertNotContains(profile, "紙でお届け")


def test_another_members_contract_is_a_404(logged_in_client, offering):
    theirs = ContractLinkFactory(member__utility=offering).customer
    response = logged_in_client.post(choice_url(theirs), {"delivery": "web"})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not WebSlip.objects.exists()


# Staff's export --------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.set(Permission.objects.filter(codename="view_webslip"))
    client.force_login(staff)
    return client


EXPORT = reverse("admin:billing_webslip_export_csv")


def slip(utility, number, name, stopped=True, day=datetime.date(2026, 12, 1)) -> WebSlip:
    customer = CustomerFactory(utility=utility, number=number, name=name)
    return WebSlip.objects.create(customer=customer, paper_stopped=stopped, chosen_on=day)


def test_staff_export_their_utilitys_list_in_cp932(staff_client, utility):
    slip(utility, "10000000000002", "髙橋 花子", stopped=False, day=datetime.date(2026, 11, 3))
    slip(utility, "10000000000001", "水道 太郎")
    slip(UtilityFactory(), "20000000001", "名寄 一郎")
    response = staff_client.get(EXPORT)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=cp932"
    assert response.content.decode("cp932").splitlines() == [
        "utility,customer_number,name,chosen_on,paper_slip",
        f"{utility.slug},10000000000001,水道 太郎,2026-12-01,stopped",
        f"{utility.slug},10000000000002,髙橋 花子,2026-11-03,restarted",
    ]
    listing = staff_client.get(reverse("admin:billing_webslip_changelist"))
    assertContains(listing, "水道 太郎")
    assertContains(listing, "ポータル登録番号")
    assertNotContains(listing, "名寄 一郎")


def test_the_encoding_is_a_setting(staff_client, utility, settings):
    settings.PORTAL_WEB_SLIP_CSV_ENCODING = "utf-8"
    slip(utility, "10000000000001", "𠮷田 太郎")
    response = staff_client.get(EXPORT)
    assert "𠮷田 太郎" in response.content.decode("utf-8")


def test_a_name_the_encoding_cannot_hold_is_named_not_mangled(staff_client, utility):
    slip(utility, "10000000000001", "𠮷田 太郎")
    response = staff_client.get(EXPORT, follow=True)
    assertContains(
        response, "cp932で書けない文字を含む契約があるため、書き出せませんでした: 10000000000001"
    )


def test_staff_of_another_utility_cannot_see_the_list(client, utility):
    other_staff = StaffFactory(utility=UtilityFactory())
    other_staff.user_permissions.set(Permission.objects.filter(codename="view_webslip"))
    client.force_login(other_staff)
    slip(utility, "10000000000001", "水道 太郎")
    assertNotContains(client.get(reverse("admin:billing_webslip_changelist")), "水道 太郎")
    assert "水道 太郎" not in client.get(EXPORT).content.decode("cp932")


def test_staff_without_the_permission_cannot_export(client, utility):
    client.force_login(StaffFactory(utility=utility))
    slip(utility, "10000000000001", "水道 太郎")
    assert client.get(EXPORT).status_code == HTTPStatus.FORBIDDEN


# Found by the outside test of issue 19 --------------------------------------------------------


def test_pressing_change_without_changing_saves_nothing(frozen, logged_in_client, user, offering):
    contract = user.contracts.get()
    response = logged_in_client.post(choice_url(contract), {"delivery": "paper"}, follow=True)
    assertContains(response, "変更はありません。")
    assertNotContains(response, "再開します")
    assert not WebSlip.objects.exists()
    # Nor when the paper is stopped and Web明細 is chosen again.
    logged_in_client.post(choice_url(contract), {"delivery": "web"}, follow=True)
    response = logged_in_client.post(choice_url(contract), {"delivery": "web"}, follow=True)
    assertContains(response, "変更はありません。")
    assertNotContains(response, "紙の検針票を止めました")


def test_a_stopped_slip_stays_shown_and_restartable_when_the_utility_stops_offering(
    frozen, logged_in_client, user, offering, client
):
    contract = user.contracts.get()
    other = ContractLinkFactory(member=user).customer  # paper never stopped
    logged_in_client.post(choice_url(contract), {"delivery": "web"})
    offering.offers_web_slip = False
    offering.save()
    assertContains(contract_page(logged_in_client, contract), STOPPED_ON_6TH)
    profile = logged_in_client.get(reverse("accounts:profile", args=[offering.slug]))
    assertContains(profile, STOPPED_ON_6TH)
    response = logged_in_client.get(choice_url(contract))
    assertContains(response, "新しいお申し込みは受け付けていません")
    # No new stop: the contract whose paper still comes has no Web明細 page or line.
    assert logged_in_client.get(choice_url(other)).status_code == HTTPStatus.NOT_FOUND
    response = logged_in_client.post(choice_url(other), {"delivery": "web"})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assertNotContains(contract_page(logged_in_client, other), "紙でお届け")
    # The CIS still hears of the stopped one, and of its restart.
    staff = StaffFactory(utility=offering)
    staff.user_permissions.set(Permission.objects.filter(codename="view_webslip"))
    client.force_login(staff)
    assert b",stopped\r\n" in client.get(EXPORT).content
    logged_in_client.force_login(user)
    response = logged_in_client.post(choice_url(contract), {"delivery": "paper"}, follow=True)
    assertContains(response, "紙の検針票のお届けを再開します。")
    assert WebSlip.objects.get(customer=contract).paper_stopped is False
    assert logged_in_client.get(choice_url(contract)).status_code == HTTPStatus.NOT_FOUND
    client.force_login(staff)
    assert b",restarted\r\n" in client.get(EXPORT).content
