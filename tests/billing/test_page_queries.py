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

from tests.factories import ContractLinkFactory, MemberFactory, MeterReadingFactory

pytestmark = pytest.mark.django_db


def member_with_history(utility, periods: int):
    member = MemberFactory(utility=utility)
    contract = ContractLinkFactory(member=member).customer
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


def test_each_page_costs_the_same_queries_for_12_and_120_periods(client, utility):
    counts = {}
    for periods in (12, 120):
        member, contract, end = member_with_history(utility, periods)
        client.force_login(member)
        counts[periods] = [count_queries(client, url) for url in pages(utility, contract, end)]
    assert counts[12] == counts[120], counts
