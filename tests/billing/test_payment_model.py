"""The Payment row: one per contract and period, a received payment has its day."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from billing.models import Payment
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def test_one_payment_per_contract_and_period():
    payment = PaymentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(customer=payment.customer, period_end=payment.period_end)
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("status", [Payment.Status.PAID, Payment.Status.OVERPAID])
def test_a_received_payment_has_its_day(status):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(status=status, paid_on=None)
    assert not Payment.objects.exists()


def test_an_unpaid_bill_needs_no_day():
    payment = PaymentFactory(status=Payment.Status.UNPAID, paid_on=None, paid_amount=0)
    assert not payment.settled
