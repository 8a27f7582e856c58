"""Every resident page costs the same number of SQL queries whatever the history length.

Counting queries is allowed where timing is not: a page that grows a query per period would
be the first thing to fall over at a city's scale (issue 17).
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Notice, NoticeRead
from tests.factories import (
    ContractLinkFactory,
    MemberFactory,
    MeterReadingFactory,
    PaymentFactory,
)

pytestmark = pytest.mark.django_db


def member_with_history(utility, periods: int):
    member = MemberFactory(utility=utility)
    contract = ContractLinkFactory(member=member, customer__address="見本市本町1丁目1-1").customer
    second = ContractLinkFactory(member=member).customer  # the contract switcher shows
    end = datetime.date(2026, 11, 25)
    for n in range(periods):
        period_end = end - datetime.timedelta(days=61 * n)
        for customer in (contract, second):
            MeterReadingFactory(
                customer=customer,
                period_end=period_end,
                period_start=period_end - datetime.timedelta(days=60),
                read_on=period_end,
                usage_m3=20 + n % 7,
            )
            PaymentFactory(
                customer=customer,
                period_end=period_end,
                period_start=period_end - datetime.timedelta(days=60),
                due_date=period_end + datetime.timedelta(days=30),
                paid_on=period_end + datetime.timedelta(days=30),
            )
    return member, contract, end


def pages(utility, contract, end) -> list[str]:
    slug, number = utility.slug, contract.number
    return [
        reverse("billing:dashboard", args=[slug]),
        reverse("billing:contract", args=[slug, number]),
        reverse("billing:history", args=[slug, number]),
        reverse("billing:history", args=[slug, number]) + "?page=2",
        reverse("billing:period", args=[slug, number, end]),
        reverse("billing:history_csv", args=[slug, number]),
        reverse("billing:payments", args=[slug, number]),
        reverse("billing:payments", args=[slug, number]) + "?page=2",
        reverse("accounts:profile", args=[slug]),
    ]


def count_queries(client, url: str) -> int:
    client.get(url)  # the session settles (idle time, chosen contract) on the first visit
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(queries)


def add_notices(utility, member, contract) -> None:
    """お知らせ of every audience, one of them already read: the dashboard shows them all."""
    published = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
    everyone = Notice.objects.create(
        utility=utility, title="全域", body="本文", publish_at=published
    )
    Notice.objects.create(
        utility=utility,
        title="本町の工事",
        body="本文",
        publish_at=published,
        audience=Notice.Audience.AREAS,
        area_prefixes="見本市本町",
    )
    Notice.objects.create(
        utility=utility,
        title="番号あて",
        body="本文",
        publish_at=published,
        important=True,
        audience=Notice.Audience.CUSTOMERS,
        customer_numbers=contract.number,
    )
    NoticeRead.objects.create(notice=everyone, member=member)


@pytest.mark.parametrize("with_notices", [False, True], ids=["no notices", "notices"])
def test_each_page_costs_the_same_queries_for_12_and_120_periods(client, utility, with_notices):
    counts = {}
    for periods in (12, 120):
        member, contract, end = member_with_history(utility, periods)
        if with_notices:
            add_notices(utility, member, contract)
        client.force_login(member)
        counts[periods] = [count_queries(client, url) for url in pages(utility, contract, end)]
    assert counts[12] == counts[120], counts


def test_a_dashboard_served_again_costs_no_query_for_its_notices(client, utility):
    # Issue 17: since お知らせ came, the cached dashboard read the notices and the member's
    # contracts on every visit (two queries more than the page without them).
    member, contract, end = member_with_history(utility, 12)
    client.force_login(member)
    url = reverse("billing:dashboard", args=[utility.slug])
    client.get(url)  # the contract is chosen: the next visits are the same cached page
    without = count_queries(client, url)
    add_notices(utility, member, contract)
    with_notices = count_queries(client, url)
    response = client.get(url)
    for title in ("全域", "本町の工事", "番号あて", "(未読 2件)"):
        assert title in response.content.decode()
    assert with_notices == without
    # No more than a signed-in page showing nothing of the database: the session and member.
    trivial = reverse("accounts:profile_email_sent", args=[utility.slug])
    assert with_notices == count_queries(client, trivial)
