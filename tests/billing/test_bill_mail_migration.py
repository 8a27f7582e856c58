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
    # Read by column: the model has fields of later migrations.
    readings = MeterReading.objects.values_list("mail_count", "mailed_period_end")
    assert readings.get(pk=mailed.pk) == (2, end)
    assert readings.get(pk=other.pk)[0] == 0  # only marked told
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
