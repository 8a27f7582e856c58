"""What a resident reads about a bill: amount, 納期限, status in plain words, what to do next."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing.models import MeterReading, Payment
from tests.factories import ContractLinkFactory, MemberFactory, MeterReadingFactory, PaymentFactory

pytestmark = pytest.mark.django_db

JST = datetime.timezone(datetime.timedelta(hours=9))
NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=JST)
END = datetime.date(2026, 10, 25)
START = datetime.date(2026, 8, 26)
REFLECTION = "お支払いの反映には数日かかります"
Method, Status = Payment.Method, Payment.Status


@pytest.fixture(autouse=True)
def _december():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def contract(user):
    contract = user.contracts.get()
    MeterReadingFactory(
        customer=contract, period_start=START, period_end=END, read_on=END, total=12345
    )
    return contract


def bill(contract, **fields) -> Payment:
    values = {
        "customer": contract,
        "period_start": START,
        "period_end": END,
        "billed_amount": 12345,
        "due_date": datetime.date(2026, 11, 26),
        "method": Method.TRANSFER,
        "paid_on": datetime.date(2026, 11, 26),
        "paid_amount": 12345,
        "status": Status.PAID,
    }
    return PaymentFactory(**(values | fields))


def page(client, name: str, contract, *args):
    return client.get(
        reverse(f"billing:{name}", args=[contract.utility.slug, contract.number, *args])
    )


def test_dashboard_shows_the_amount_due_date_and_a_transfer_that_went_through(
    logged_in_client, contract
):
    bill(contract)
    response = page(logged_in_client, "contract", contract)
    assertContains(response, "最新のご請求とお支払い状況")
    assertContains(response, "12,345")
    assertContains(response, "口座振替済み (11月26日)")
    assertNotContains(response, REFLECTION)
    assertContains(
        response, reverse("billing:payments", args=[contract.utility.slug, contract.number])
    )


def test_a_failed_transfer_says_what_comes_next_and_whom_to_call(logged_in_client, contract):
    bill(contract, status=Status.TRANSFER_FAILED, paid_amount=0)
    response = page(logged_in_client, "contract", contract)
    assertContains(response, "口座振替ができませんでした")
    assertContains(response, "納付書を郵送します")
    assertContains(response, "03-1234-5678")  # the utility's contact block
    assertNotContains(response, "口座振替済み")


def test_money_owed_is_named_at_the_top_of_the_dashboard(logged_in_client, contract):
    # Issue 20 finding F9: on a phone the failed transfer was ~1,900 px down the page.
    bill(contract, status=Status.TRANSFER_FAILED, paid_amount=0)
    response = page(logged_in_client, "contract", contract)
    html = response.content.decode()
    line = "口座振替ができませんでした(ご請求額 "
    assert line in html
    assert html.index(line) < html.index("最新のご使用量")
    assert 'href="#bill-title"' in html


def test_an_overdue_bill_is_named_at_the_top_and_a_paid_one_is_not(logged_in_client, contract):
    payment = bill(
        contract,
        method=Method.SLIP,
        paid_on=None,
        paid_amount=0,
        status=Status.UNPAID,
        due_date=datetime.date(2026, 11, 30),
    )
    response = page(logged_in_client, "contract", contract)
    assertContains(response, "納期限を過ぎたご請求があります(ご請求額 ")
    payment.status, payment.paid_on, payment.paid_amount = Status.PAID, END, 12345
    payment.save()
    response = page(logged_in_client, "contract", contract)
    assertNotContains(response, "bill-owed")


def test_an_unpaid_slip_shows_its_due_date_and_warns_against_paying_twice(
    logged_in_client, contract
):
    bill(
        contract,
        method=Method.SMARTPHONE,
        due_date=datetime.date(2026, 12, 10),
        paid_on=None,
        paid_amount=0,
        status=Status.UNPAID,
    )
    response = page(logged_in_client, "period", contract, END)
    assertContains(response, "未納: 納期限 12月10日")
    assertContains(response, REFLECTION)
    assertNotContains(response, "納期限を過ぎています")


def test_a_bill_past_its_due_date_says_so_from_the_next_day_even_from_the_cache(
    logged_in_client, contract, time_machine
):
    bill(
        contract,
        method=Method.SLIP,
        paid_on=None,
        paid_amount=0,
        status=Status.UNPAID,
        due_date=datetime.date(2026, 12, 1),
    )
    time_machine.move_to(datetime.datetime(2026, 12, 1, 23, 59, tzinfo=JST), tick=False)
    response = page(logged_in_client, "contract", contract)
    assertContains(response, "未納: 納期限 12月1日")
    assertNotContains(response, "納期限を過ぎています")
    time_machine.move_to(datetime.datetime(2026, 12, 2, 0, 1, tzinfo=JST), tick=False)
    response = page(logged_in_client, "contract", contract)  # no row changed at midnight
    assertContains(response, "納期限を過ぎています")
    assertContains(response, "03-1234-5678")


def test_a_due_date_of_another_year_is_shown_with_its_year(logged_in_client, contract):
    # Issue 20 finding F1: 「納期限 12月26日」 of a 2099 bill read as this December.
    bill(
        contract,
        method=Method.SLIP,
        due_date=datetime.date(2027, 1, 26),
        paid_on=None,
        paid_amount=0,
        status=Status.UNPAID,
    )
    response = page(logged_in_client, "contract", contract)
    assertContains(response, "未納: 納期限 2027年1月26日")


def test_a_slip_paid_at_a_shop_reads_paid_with_its_day(logged_in_client, contract):
    bill(contract, method=Method.SLIP, paid_on=datetime.date(2026, 11, 20))
    response = page(logged_in_client, "period", contract, END)
    assertContains(response, "お支払い済み (11月20日)")
    assertContains(response, "納付書")


def test_a_transfer_still_to_come_is_not_called_unpaid(logged_in_client, contract):
    bill(
        contract,
        due_date=datetime.date(2026, 12, 28),
        paid_on=None,
        paid_amount=0,
        status=Status.UNPAID,
    )
    response = page(logged_in_client, "contract", contract)
    assertContains(response, "口座振替予定: 12月28日")
    assertNotContains(response, "未納")
    assertNotContains(response, REFLECTION)


def test_the_dashboard_without_bills_shows_no_bill_section(logged_in_client, contract):
    response = page(logged_in_client, "contract", contract)
    assertNotContains(response, "最新のご請求とお支払い状況")


def test_the_payment_history_lists_every_bill_newest_first_a_page_at_a_time(
    logged_in_client, contract
):
    for n in range(30):
        end = END - datetime.timedelta(days=61 * n)
        bill(
            contract,
            period_end=end,
            period_start=end - datetime.timedelta(days=60),
            due_date=end + datetime.timedelta(days=32),
            paid_on=end + datetime.timedelta(days=32),
        )
    response = page(logged_in_client, "payments", contract)
    assertContains(response, "<h1>支払い履歴</h1>", html=True)
    assertContains(response, "全30件(1/2ページ)")
    assertContains(response, "口座振替済み", count=24)
    assertContains(response, 'aria-current="page"')
    second = logged_in_client.get(
        reverse("billing:payments", args=[contract.utility.slug, contract.number]) + "?page=2"
    )
    assertContains(second, "口座振替済み", count=6)


def test_the_history_page_links_to_the_payment_history(logged_in_client, contract):
    response = page(logged_in_client, "history", contract)
    assertContains(response, "支払い履歴")
    assertContains(
        response, reverse("billing:payments", args=[contract.utility.slug, contract.number])
    )


def test_an_import_shows_on_the_cached_pages_at_once(
    logged_in_client, contract, django_capture_on_commit_callbacks
):
    bill(
        contract,
        paid_on=None,
        paid_amount=0,
        status=Status.UNPAID,
        due_date=datetime.date(2026, 12, 26),
    )
    assertContains(page(logged_in_client, "contract", contract), "口座振替予定: 12月26日")
    assertContains(page(logged_in_client, "payments", contract), "口座振替予定: 12月26日")
    header = "utility,customer_number,period_start,period_end,billed_amount,due_date,method,paid_on,paid_amount,status"
    row = (
        f"{contract.utility.slug},{contract.number},{START},{END},12345,2026-12-26,"
        "口座振替,2026-11-30,0,振替不能"
    )
    import sys

    with django_capture_on_commit_callbacks(execute=True):
        stdin = io.TextIOWrapper(io.BytesIO(f"{header}\n{row}\n".encode()))
        old, sys.stdin = sys.stdin, stdin
        try:
            call_command("import_payments", "-", stdout=io.StringIO())
        finally:
            sys.stdin = old
    assertContains(page(logged_in_client, "contract", contract), "口座振替ができませんでした")
    assertContains(page(logged_in_client, "payments", contract), "口座振替ができませんでした")


def test_a_member_sees_no_bill_of_another_members_contract(client, utility, contract):
    other = ContractLinkFactory(member=MemberFactory(utility=utility)).customer
    MeterReadingFactory(customer=other, period_start=START, period_end=END, read_on=END)
    bill(other, status=Status.TRANSFER_FAILED, paid_amount=0)
    client.force_login(contract.members.get())
    for name, args in (("payments", []), ("period", [END]), ("contract", [])):
        assert page(client, name, other, *args).status_code == 404
    assertNotContains(page(client, "payments", contract), "口座振替ができませんでした")
    assert MeterReading.objects.count() == 2


def test_after_moving_out_a_member_sees_no_bill_of_the_next_occupant(logged_in_client, contract):
    """A completed 使用中止 ends the link: the bills of periods begun later are another's."""
    bill(contract)  # 2026-08-26〜2026-10-25, theirs
    later = datetime.date(2026, 12, 25)
    bill(
        contract,
        period_start=datetime.date(2026, 10, 26),
        period_end=later,
        due_date=datetime.date(2027, 1, 26),
        paid_on=None,
        paid_amount=0,
        status=Status.TRANSFER_FAILED,
    )
    contract.member_links.update(ended_on=datetime.date(2026, 10, 20))
    dashboard = page(logged_in_client, "contract", contract)
    assertContains(dashboard, "口座振替済み (11月26日)")
    assertNotContains(dashboard, "口座振替ができませんでした")
    history = page(logged_in_client, "payments", contract)
    assertContains(history, "全1件")
    assertNotContains(history, "口座振替ができませんでした")


def test_after_moving_in_a_member_sees_no_bill_of_the_previous_occupant(logged_in_client, contract):
    """A 使用開始 or 名義変更 bringing an existing number starts the link: earlier bills are
    another's (the mirror of a move-out's end)."""
    bill(contract, paid_on=None, paid_amount=0, status=Status.TRANSFER_FAILED)  # to 10/25
    bill(contract, period_start=datetime.date(2026, 10, 26), period_end=datetime.date(2026, 12, 25))
    contract.member_links.update(started_on=datetime.date(2026, 11, 1))
    dashboard = page(logged_in_client, "contract", contract)
    assertNotContains(dashboard, "口座振替ができませんでした")
    history = page(logged_in_client, "payments", contract)
    assertContains(history, "全1件")
    assertNotContains(history, "口座振替ができませんでした")
    assert page(logged_in_client, "period", contract, END).status_code == 404
