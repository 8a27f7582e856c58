"""The usage and charge pages as a resident sees them: slip, comparisons, chart, CSV, invoice."""

from __future__ import annotations

import csv
import datetime
import io
import re
from http import HTTPStatus

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import ContractLink
from billing.models import MeterReading, Payment
from billing.views import SELECTED_CONTRACT_SESSION_KEY
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    PaymentFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

LAST_END = datetime.date(2025, 5, 25)
# Each page: session, member, utility, the member's contracts, then at most three reading
# queries (chart + page count + page, period + neighbours + its bill, or the bills' count +
# page). Choosing another contract adds a
# session write (three statements on the first visit only).
MAX_QUERIES = 7


def whole(start: str, end: str) -> str:
    """A period as the pages write it: each date unbroken, a line may break only at 「〜」."""
    return f'<span class="nowrap">{start}</span>〜<span class="nowrap">{end}</span>'


def _months_back(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months
    return day.replace(year=index // 12, month=index % 12 + 1)


def add_history(customer, usages: list[int], months: int = 2) -> list[MeterReading]:
    """Give ``customer`` one period per usage, oldest first, the newest ending 2025-05-25."""
    readings = []
    index = 1000
    for back, usage_m3 in zip(range(len(usages) - 1, -1, -1), usages, strict=True):
        end = _months_back(LAST_END, months * back)
        readings.append(
            MeterReadingFactory.build(
                customer=customer,
                period_start=_months_back(end, months) + datetime.timedelta(days=1),
                period_end=end,
                read_on=end,
                previous_index=index,
                current_index=index + usage_m3,
                usage_m3=usage_m3,
                water_charge=150 * usage_m3,
                sewer_charge=100 * usage_m3,
                tax=round(250 * usage_m3 / 11),
                total=250 * usage_m3,
            )
        )
        index += usage_m3
    return MeterReading.objects.bulk_create(readings)


def add_bills(readings: list[MeterReading]) -> list[Payment]:
    """A bill per reading, paid by transfer a month after the period."""
    due = datetime.timedelta(days=30)
    return Payment.objects.bulk_create(
        PaymentFactory.build(
            customer=r.customer,
            period_start=r.period_start,
            period_end=r.period_end,
            billed_amount=r.total,
            due_date=r.period_end + due,
            paid_on=r.period_end + due,
            paid_amount=r.total,
        )
        for r in readings
    )


@pytest.fixture
def contract(user):
    return user.contracts.get()


def url(name: str, utility, *args) -> str:
    return reverse(f"billing:{name}", args=[utility.slug, *args])


# Dashboard ---------------------------------------------------------------------------------


def test_dashboard_shows_the_latest_period_as_the_slip_does(logged_in_client, utility, contract):
    add_history(contract, [18, 20, 22, 19, 21, 24, 20, 25])
    response = logged_in_client.get(url("dashboard", utility))
    assert response.status_code == HTTPStatus.OK
    assertContains(response, contract.number)
    assertContains(response, whole("2025年3月26日", "2025年5月25日"))
    assertContains(
        response, "<dt>検針日</dt><dd><span class='nowrap'>2025年5月25日</span></dd>", html=True
    )
    assertContains(
        response, "<dt>今回の指針</dt><dd><span class='nowrap'>1,169 m³</span></dd>", html=True
    )
    assertContains(
        response, "<dt>前回の指針</dt><dd><span class='nowrap'>1,144 m³</span></dd>", html=True
    )
    assertContains(response, "25 m³")
    assertContains(response, "6,250円")  # 請求金額
    assertContains(
        response, "<dt>水道料金</dt><dd><span class='nowrap'>3,750円</span></dd>", html=True
    )
    assertContains(
        response, "<dt>下水道使用料</dt><dd><span class='nowrap'>2,500円</span></dd>", html=True
    )
    assertContains(
        response, "<dt>うち消費税</dt><dd><span class='nowrap'>568円</span></dd>", html=True
    )


def test_dashboard_compares_with_previous_period_and_last_year(logged_in_client, utility, contract):
    # Newest 25 m³; previous 20 m³; six periods back (2024-05-25) 24 m³.
    add_history(contract, [18, 24, 22, 19, 21, 24, 20, 25])
    response = logged_in_client.get(url("dashboard", utility))
    assertContains(response, "+5 m³")
    assertContains(response, "+25%")
    assertContains(response, whole("2024年3月26日", "2024年5月25日"))
    assertContains(response, "+1 m³")
    assertContains(response, "+4%")
    assertContains(response, "0.41 m³")  # 25 m³ over 61 days
    assertContains(response, "約410リットル")
    assertNotContains(response, "水漏れ")


def test_dashboard_says_so_when_there_is_no_earlier_period(logged_in_client, utility, contract):
    add_history(contract, [20])
    response = logged_in_client.get(url("dashboard", utility))
    assertContains(response, "前回のデータはありません")
    assertContains(response, "前年同期のデータはありません")


def test_leak_notice_when_usage_doubles_against_last_year(logged_in_client, utility, contract):
    add_history(contract, [20, 20, 20, 20, 20, 20, 42])
    response = logged_in_client.get(url("dashboard", utility))
    assertContains(response, "水漏れの可能性についてのお知らせ")
    assertContains(response, "パイロット")
    assertContains(response, "トイレのタンク")
    assertContains(response, "蛇口")
    assertContains(response, "見本市水道局お客さまサービス課")  # the utility's contact block


def test_leak_notice_follows_the_utilitys_thresholds(logged_in_client, utility, contract):
    add_history(contract, [20, 20, 20, 20, 20, 20, 31])
    response = logged_in_client.get(url("dashboard", utility))
    assertNotContains(response, "水漏れの可能性")
    utility.leak_ratio_percent = 150
    utility.leak_min_increase_m3 = 5
    utility.save()
    response = logged_in_client.get(url("dashboard", utility))
    assertContains(response, "水漏れの可能性についてのお知らせ")


def test_each_leaking_contract_has_its_own_notice_naming_it_first_on_the_dashboard(
    logged_in_client, utility, contract, user
):
    """A member with several contracts hears of a leak at the one it concerns, whichever
    contract the dashboard shows, each notice naming the contract by number and address."""
    calm = ContractLinkFactory(member=user, customer__address="見本市本町2丁目2-2").customer
    rental = ContractLinkFactory(member=user, customer__address="見本市港町3丁目3-3").customer
    add_history(contract, [20, 20, 20, 20, 20, 20, 20])
    add_history(calm, [20, 20, 20, 20, 20, 20, 21])
    add_history(rental, [20, 20, 20, 20, 20, 20, 42])
    response = logged_in_client.get(url("contract", utility, contract.number))
    html = response.content.decode()
    assert html.count("水漏れの可能性についてのお知らせ") == 1
    notice = html[html.index('class="notice notice--warning leak-notice"') :]
    notice = notice[: notice.index("</section>")]
    assert rental.number in notice and "見本市港町3丁目3-3" in notice
    assert calm.number not in notice and contract.number not in notice
    # First on the page: above the contract switcher and the shown contract's figures.
    assert html.index("leak-notice") < html.index("contract-switcher")
    MeterReading.objects.filter(customer=contract).delete()
    add_history(contract, [20, 20, 20, 20, 20, 20, 45])  # now the first contract leaks too
    html = logged_in_client.get(url("contract", utility, calm.number)).content.decode()
    assert html.count("水漏れの可能性についてのお知らせ") == 2
    assert len(set(re.findall(r'id="(leak-[^"]+)"', html))) == 2  # each heading its own id


def test_litres_and_cubic_metres_have_thousands_separators_everywhere(
    logged_in_client, utility, contract
):
    """A large user (a school, a shop): 「約32,787リットル」 and the chart's 「2,000」, never 「32787」."""
    add_history(contract, [1900, 1950, 1980, 1990, 1995, 1999, 2000])
    dashboard = logged_in_client.get(url("dashboard", utility)).content.decode()
    assert "約32,787リットル" in dashboard  # 2,000 m³ over 61 days
    assert "32787" not in dashboard
    history = logged_in_client.get(url("history", utility, contract.number)).content.decode()
    chart = history[history.index("<svg") : history.index("</svg>")]
    assert ">2,000</text>" in chart
    assert not re.search(r">\d{4,}</text>", chart), re.findall(r">\d{4,}</text>", chart)


def test_contract_without_readings_shows_when_data_will_appear(logged_in_client, utility, contract):
    for name in ("dashboard", "contract", "history"):
        args = [] if name == "dashboard" else [contract.number]
        response = logged_in_client.get(url(name, utility, *args))
        assert response.status_code == HTTPStatus.OK
        assertContains(response, "使用量や料金の照会ができるのは1営業日後になります。")
        assertNotContains(response, "<table")


def test_member_without_a_contract_sees_the_utilitys_note(client, utility):
    utility.data_delay_note = "データは翌月10日ごろに反映されます。"
    utility.save()
    client.force_login(MemberFactory(utility=utility))
    response = client.get(url("dashboard", utility))
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "データは翌月10日ごろに反映されます。")
    assertContains(response, "ご契約の確認が済むと")


# Several contracts -------------------------------------------------------------------------


def test_member_with_two_contracts_switches_and_the_choice_is_kept(client, utility):
    member = MemberFactory(utility=utility)
    first = ContractLinkFactory(member=member, customer__number="10000000000002").customer
    second = ContractLinkFactory(member=member, customer__number="10000000000003").customer
    add_history(first, [11, 12])
    add_history(second, [33, 34])
    client.force_login(member)

    response = client.get(url("dashboard", utility))
    assertContains(response, "表示する契約の切り替え")
    assertContains(response, url("contract", utility, second.number))
    assertContains(response, "12 m³")

    response = client.get(url("contract", utility, second.number))
    assertContains(response, "34 m³")
    assert client.session[SELECTED_CONTRACT_SESSION_KEY] == second.pk

    # After browsing elsewhere, the landing page still shows the contract chosen last.
    client.get(reverse("portal:faq", args=[utility.slug]))
    response = client.get(url("dashboard", utility))
    assertContains(response, "34 m³")
    assertNotContains(response, "12 m³")


def test_member_with_one_contract_sees_no_switcher(logged_in_client, utility, contract):
    add_history(contract, [20])
    response = logged_in_client.get(url("dashboard", utility))
    assertNotContains(response, "表示する契約の切り替え")


# Only one's own contracts ------------------------------------------------------------------


@pytest.fixture
def someone_elses(utility, contract):
    """A contract of another member of the same utility, with readings."""
    other = ContractLinkFactory(member=MemberFactory(utility=utility)).customer
    add_history(other, [20, 30])
    add_history(contract, [10, 15])
    return other


@pytest.mark.parametrize("name", ["contract", "history", "history_csv", "payments"])
def test_another_members_contract_is_a_404(logged_in_client, utility, someone_elses, name):
    response = logged_in_client.get(url(name, utility, someone_elses.number))
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_another_members_period_is_a_404(logged_in_client, utility, someone_elses):
    response = logged_in_client.get(url("period", utility, someone_elses.number, LAST_END))
    assert response.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "path",
    [
        "usage/{stripped}/",  # leading zeros dropped
        "usage/{fullwidth}/",  # full-width digits
        "usage/{number}0/",
        "usage/{number}/2025-02-30/",  # not a date
        "usage/%20{number}/history/",
        "usage/{number}/history.csv/x",
        "usage/{stripped}/payments/",
        "usage/{fullwidth}/payments/",
    ],
)
def test_number_or_date_typed_differently_is_a_404(logged_in_client, utility, contract, path):
    contract.number = "00000000000123"
    contract.save()
    add_history(contract, [10, 15])
    fullwidth = contract.number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rendered = path.format(number=contract.number, stripped="123", fullwidth=fullwidth)
    response = logged_in_client.get(f"/{utility.slug}/{rendered}")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_a_day_no_period_ends_on_leads_to_the_period_holding_it_or_the_history(
    logged_in_client, utility, contract
):
    """A mailed link to a period a correction moved (replaces_period_end) is not a 404."""
    add_history(contract, [10, 15])  # 2025-01-26〜03-25 and 03-26〜05-25
    base = f"/{utility.slug}/usage/{contract.number}"
    response = logged_in_client.get(f"{base}/2025-04-25/")
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"{base}/2025-05-25/"
    response = logged_in_client.get(f"{base}/2020-04-25/")
    assert response.url == f"{base}/history/"


def test_same_number_in_another_utility_is_a_404(client, utility):
    elsewhere = UtilityFactory()
    member = MemberFactory(utility=utility)
    mine = ContractLinkFactory(member=member).customer
    # A link that can no longer be saved (stored before the model refused it) shows nothing.
    theirs = CustomerFactory(utility=elsewhere, number="99999999999999")
    ContractLink.objects.bulk_create([ContractLink(member=member, customer=theirs)])
    add_history(mine, [10])
    add_history(theirs, [99])
    client.force_login(member)
    response = client.get(url("history", utility, theirs.number))
    assert response.status_code == HTTPStatus.NOT_FOUND
    response = client.get(url("dashboard", utility))
    assertNotContains(response, "99 m³")


def test_unlinked_contract_is_a_404_even_after_it_was_chosen(logged_in_client, user, utility):
    contract = user.contracts.get()
    add_history(contract, [10])
    assert logged_in_client.get(url("contract", utility, contract.number)).status_code == 200
    user.contract_links.all().delete()
    response = logged_in_client.get(url("contract", utility, contract.number))
    assert response.status_code == HTTPStatus.NOT_FOUND
    response = logged_in_client.get(url("dashboard", utility))
    assertNotContains(response, contract.number)


def test_staff_do_not_see_residents_pages(client, utility, contract):
    client.force_login(StaffFactory(utility=utility))
    response = client.get(url("contract", utility, contract.number))
    assertRedirects(
        response,
        f"{reverse('accounts:login', args=[utility.slug])}?next="
        f"{url('contract', utility, contract.number)}",
        fetch_redirect_response=False,
    )


def test_anonymous_visitor_is_sent_to_login(client, utility, contract):
    response = client.get(url("history_csv", utility, contract.number))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login", args=[utility.slug]))


# History -----------------------------------------------------------------------------------


def test_history_chart_is_inline_svg_with_title_desc_and_a_table(
    logged_in_client, utility, contract
):
    add_history(contract, list(range(10, 40)))  # 30 periods, newest 39 m³
    response = logged_in_client.get(url("history", utility, contract.number))
    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert body.count("<svg") == 1
    assert 'role="img"' in body and 'aria-labelledby="usage-chart-title usage-chart-desc"' in body
    assertContains(response, '<title id="usage-chart-title">')
    assertContains(response, "最新の2025年5月検針分は39 m³です。前年同期は33 m³でした。")
    assertContains(response, "直近24期の使用水量")
    assertContains(response, "<caption>グラフの数値(使用水量と前年同期)</caption>", html=True)
    assertContains(
        response,
        '<tr><th scope="row">2025年5月</th><td class="num"><span class="nowrap">39 m³</span></td>'
        '<td class="num"><span class="nowrap">33 m³</span></td><td class="num"><span class="chunk"><span class="nowrap">+6 m³</span></span><span class="chunk">(+18%)</span></td></tr>',
        html=True,
    )
    assert "<script" not in body and "style=" not in body


def test_history_pages_every_period(logged_in_client, utility, contract):
    add_history(contract, list(range(1, 121)), months=1)  # 120 monthly periods
    response = logged_in_client.get(url("history", utility, contract.number))
    assertContains(response, "全120件、1/5ページ")
    assertContains(response, whole("2025年4月26日", "2025年5月25日"), html=True)
    assertContains(response, f'href="{url("period", utility, contract.number, LAST_END)}"')
    assertContains(response, 'rel="next"')
    response = logged_in_client.get(url("history", utility, contract.number) + "?page=5")
    assertContains(response, "全120件、5/5ページ")
    assertContains(response, '<span class="nowrap">2015年5月26日</span>〜')  # the oldest
    response = logged_in_client.get(url("history", utility, contract.number) + "?page=abc")
    assertContains(response, "1/5ページ")


# Period detail and the qualified invoice ---------------------------------------------------


def test_period_detail_is_the_slip_of_that_period(logged_in_client, utility, contract):
    add_history(contract, [20, 30, 40])
    end = datetime.date(2025, 3, 25)
    response = logged_in_client.get(url("period", utility, contract.number, end))
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "上下水道料金のお知らせ(検針票)")
    assertContains(response, whole("2025年1月26日", "2025年3月25日"))
    assertContains(response, "<dt>口径</dt><dd>20 mm</dd>", html=True)
    assertContains(response, f"<dt>メーター番号</dt><dd>{contract.meter_number}</dd>", html=True)
    assertContains(
        response,
        "<dt>使用水量</dt><dd class='usage-figure'><span class='nowrap'>30 m³</span></dd>",
        html=True,
    )
    assertContains(response, "7,500円")
    assertContains(response, url("period", utility, contract.number, "2025-01-25"))
    assertContains(response, url("period", utility, contract.number, "2025-05-25"))
    assertContains(response, "css/billing.css")


def test_invoice_block_for_a_member_who_declares_consumption_tax(client, utility):
    member = MemberFactory(utility=utility, tax_declaration="yes")
    contract = ContractLinkFactory(member=member).customer
    add_history(contract, [20])
    client.force_login(member)
    response = client.get(url("period", utility, contract.number, LAST_END))
    assertContains(response, "適格請求書としての記載事項")
    assertContains(response, "T9234567890123")
    assertContains(response, utility.name)
    assertContains(
        response,
        '<tr><th scope="row">10%対象</th><td class="num"><span class="nowrap">5,000円</span></td>'
        '<td class="num"><span class="nowrap">455円</span></td></tr>',
        html=True,
    )
    assertContains(
        response, f"<dt>取引期間</dt><dd>{whole('2025年3月26日', '2025年5月25日')}</dd>", html=True
    )


@pytest.mark.parametrize("declaration", ["no", ""])
def test_no_invoice_block_without_a_tax_declaration(client, utility, declaration):
    member = MemberFactory(utility=utility, tax_declaration=declaration)
    contract = ContractLinkFactory(member=member).customer
    add_history(contract, [20])
    client.force_login(member)
    response = client.get(url("period", utility, contract.number, LAST_END))
    assert response.status_code == HTTPStatus.OK
    assertNotContains(response, "適格請求書")
    assertNotContains(response, "T9234567890123")


# CSV ---------------------------------------------------------------------------------------


def test_csv_is_the_whole_history_with_bom_and_japanese_headers(
    logged_in_client, utility, contract
):
    add_history(contract, list(range(1, 31)))
    with_zero_lead = contract.number
    response = logged_in_client.get(url("history_csv", utility, contract.number))
    assert response.status_code == HTTPStatus.OK
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="usage_{contract.number}.csv"'
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == [
        utility.customer_number_label,  # the utility's own word for the number (issue 15)
        "ご使用期間(開始)",
        "ご使用期間(終了)",
        "検針日",
        "前回の指針",
        "今回の指針",
        "使用水量(m³)",
        "水道料金(円)",
        "下水道使用料(円)",
        "うち消費税(円)",
        "請求金額(円)",
    ]
    assert len(rows) == 31
    assert rows[1][0] == with_zero_lead
    assert rows[1][2] < rows[-1][2]  # oldest first
    assert rows[-1][1:] == [
        "2025-03-26",
        "2025-05-25",
        "2025-05-25",
        "1435",
        "1465",
        "30",
        "4500",
        "3000",
        "682",
        "7500",
    ]
    assert body.count(b"\r\n") == 31


# A fixed number of queries -----------------------------------------------------------------


@pytest.mark.parametrize("periods", [3, 120])
@pytest.mark.parametrize(
    "name", ["dashboard", "contract", "history", "period", "history_csv", "payments"]
)
def test_every_page_costs_a_fixed_number_of_queries(
    client, utility, django_assert_max_num_queries, periods, name
):
    member = MemberFactory(utility=utility, tax_declaration="yes")
    contract = ContractLinkFactory(member=member).customer
    ContractLinkFactory(member=member)  # a second contract: the switcher is drawn too
    add_bills(add_history(contract, list(range(1, periods + 1)), months=1))
    client.force_login(member)
    client.get(url("contract", utility, contract.number))  # the choice is already in the session
    args = {
        "dashboard": [],
        "contract": [contract.number],
        "history": [contract.number],
        "period": [contract.number, _months_back(LAST_END, 1)],
        "history_csv": [contract.number],
        "payments": [contract.number],
    }[name]
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url(name, utility, *args))
        content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == HTTPStatus.OK
    assert content
