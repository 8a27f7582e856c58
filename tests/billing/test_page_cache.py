"""Usage pages come from the cache (issue 17) yet never show anything out of date or not yours.

Each test first visits the pages so that they are cached, then changes what they show the way
staff or the importer do, and looks again at once.
"""

from __future__ import annotations

import datetime
import re
from http import HTTPStatus

import pytest
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.factories import ContractLinkFactory, MemberFactory, MeterReadingFactory

pytestmark = pytest.mark.django_db

LAST_END = datetime.date(2025, 5, 25)
READINGS_HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
CUSTOMERS_HEADER = (
    "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number\n"
)


@pytest.fixture
def contract(user):
    contract = user.contracts.get()
    for back, usage_m3 in enumerate([21, 22, 23]):
        end = LAST_END - datetime.timedelta(days=61 * back)
        MeterReadingFactory(
            customer=contract,
            period_start=end - datetime.timedelta(days=60),
            period_end=end,
            read_on=end,
            previous_index=1000 - 30 * back,
            current_index=1000 - 30 * back + usage_m3,
            usage_m3=usage_m3,
        )
    return contract


def usage_pages(utility, contract) -> list[str]:
    return [
        reverse("billing:dashboard", args=[utility.slug]),
        reverse("billing:contract", args=[utility.slug, contract.number]),
        reverse("billing:history", args=[utility.slug, contract.number]),
        reverse("billing:history_csv", args=[utility.slug, contract.number]),
    ]


def body(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == HTTPStatus.OK, path
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8-sig")


def visit_twice(client, utility, contract) -> None:
    for path in usage_pages(utility, contract) * 2:
        body(client, path)


def test_a_new_import_of_readings_shows_at_once_on_every_usage_page(
    logged_in_client, utility, contract, tmp_path
):
    visit_twice(logged_in_client, utility, contract)
    new = tmp_path / "readings.csv"
    new.write_text(
        READINGS_HEADER
        + f"{utility.slug},{contract.number},2025-05-26,2025-07-25,2025-07-25,1023,1100,77,"
        "11550,7700,1750,19250\n",
        encoding="utf-8",
    )
    call_command("import_readings", str(new), verbosity=0)
    dashboard, by_number, history, csv = (
        body(logged_in_client, path) for path in usage_pages(utility, contract)
    )
    for page in (dashboard, by_number):
        assert "2025年7月25日" in page and "19,250円" in page
    assert "2025年7月25日" in history and "全4件" in history
    assert "2025-07-25" in csv and ",77," in csv


def test_a_customer_import_shows_the_new_name_at_once(
    logged_in_client, utility, contract, tmp_path
):
    visit_twice(logged_in_client, utility, contract)
    new = tmp_path / "customers.csv"
    new.write_text(
        CUSTOMERS_HEADER
        + f"{utility.slug},{contract.number},上下 花子,ジョウゲ ハナコ,{contract.address},"
        f"{contract.building},0312345678,20,99999\n",
        encoding="utf-8",
    )
    call_command("import_customers", str(new), verbosity=0)
    assertContains(
        logged_in_client.get(reverse("billing:dashboard", args=[utility.slug])), "上下 花子"
    )


def test_a_reading_corrected_by_staff_shows_at_once(logged_in_client, utility, contract):
    visit_twice(logged_in_client, utility, contract)
    latest = contract.readings.get(period_end=LAST_END)
    latest.usage_m3, latest.total = 44, 12345
    latest.save()  # what the admin's change form does
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    assertContains(logged_in_client.get(dashboard), "12,345円")
    latest.delete()
    assertNotContains(logged_in_client.get(dashboard), "12,345円")


def test_a_contract_taken_off_the_member_disappears_at_once(logged_in_client, user, utility):
    second = ContractLinkFactory(member=user).customer
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    assertContains(logged_in_client.get(dashboard), second.number)
    assertContains(logged_in_client.get(dashboard), second.number)
    user.contract_links.get(customer=second).delete()
    assertNotContains(logged_in_client.get(dashboard), second.number)
    history = reverse("billing:history", args=[utility.slug, second.number])
    assert logged_in_client.get(history).status_code == HTTPStatus.NOT_FOUND


def test_every_usage_page_of_a_contract_unlinked_in_bulk_is_gone_at_once(
    logged_in_client, user, utility, contract
):
    second = ContractLinkFactory(member=user).customer
    visit_twice(logged_in_client, utility, second)
    user.contracts.remove(second)  # one DELETE of the link rows, as the admin's inline does
    for path in usage_pages(utility, second)[1:]:
        assert logged_in_client.get(path).status_code == HTTPStatus.NOT_FOUND, path
    assertNotContains(
        logged_in_client.get(reverse("billing:dashboard", args=[utility.slug])), second.number
    )


def test_a_contract_linked_by_staff_shows_in_the_switcher_at_once(
    logged_in_client, user, utility, contract
):
    visit_twice(logged_in_client, utility, contract)
    added = ContractLinkFactory(member=user).customer  # approval of 契約の追加
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    assertContains(logged_in_client.get(dashboard), added.number)


def test_someone_elses_contract_stays_a_404_however_often_it_is_asked(
    logged_in_client, utility, contract
):
    other = ContractLinkFactory(member=MemberFactory(utility=utility)).customer
    for path in usage_pages(utility, other)[1:] * 2:
        assert logged_in_client.get(path).status_code == HTTPStatus.NOT_FOUND, path


def test_each_visitor_signs_out_with_their_own_token_from_a_cached_page(utility, contract, user):
    other = MemberFactory(utility=utility)
    ContractLinkFactory(member=other, customer=contract)
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    logout = reverse("accounts:logout", args=[utility.slug])
    for member in (user, user, other):  # the second visit of each is the cached page
        client = Client(enforce_csrf_checks=True)
        client.force_login(member)
        body(client, dashboard)
        page = body(client, dashboard)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = client.post(logout, {"csrfmiddlewaretoken": token})
        assert response.status_code == HTTPStatus.FOUND, member


def test_a_waiting_message_shows_on_a_page_that_was_cached(logged_in_client, utility, contract):
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    visit_twice(logged_in_client, utility, contract)
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(messages.SUCCESS, "メールアドレスを変更しました。")
    carrier = HttpResponse()
    storage.update(carrier)
    logged_in_client.cookies["messages"] = carrier.cookies["messages"].value
    assertContains(logged_in_client.get(dashboard), "メールアドレスを変更しました。")
    assertNotContains(logged_in_client.get(dashboard), "メールアドレスを変更しました。")
