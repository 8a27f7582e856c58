"""Upgrading: a reading mailed before mail_count existed counts that mail, so its next change
is a correction with a key of its own (not the first mail's key, which would be skipped)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billing.models import MeterReading
from portal.outbox import enqueue_mail
from tests.factories import CustomerFactory, MeterReadingFactory, UtilityFactory


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


@pytest.mark.django_db(transaction=True)
def test_a_reading_mailed_before_the_upgrade_counts_its_mails(mailoutbox):
    utility = UtilityFactory(slug="nayoro", customer_number_digits=11)
    customer = CustomerFactory(utility=utility)
    end = datetime.date(2026, 11, 25)
    mailed = MeterReadingFactory(customer=customer, period_end=end, mailed_total=1000)
    other = MeterReadingFactory(customer=CustomerFactory(utility=utility), mailed_total=1)
    # The keys main wrote: the first mail, then a correction keyed by the new total.
    for key in (f"bill_ready:{customer.pk}:{end}:7", f"bill_ready:{customer.pk}:{end}:7:900"):
        enqueue_mail(utility, "a@example.jp", "accounts/recovery_locked", {}, key=key)
    migrate([("billing", "0009_watch")])
    migrate([("billing", "0010_bill_mail_count")])
    mailed = MeterReading.objects.get(pk=mailed.pk)
    assert (mailed.mail_count, mailed.mailed_period_end) == (2, end)
    assert MeterReading.objects.get(pk=other.pk).mail_count == 0  # only marked told
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
