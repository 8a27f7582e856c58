"""A bill's payment status in the words a resident understands (issue 20).

The CIS says 未納 / 納付済 / 振替不能 / 過誤納; a resident wants to know whether the money left
their account, whether they still owe it and by when, and what to do if a transfer failed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import Payment
from .templatetags.billing_format import jdate_text, month_day_text

Status, Method = Payment.Status, Payment.Method


@dataclass(frozen=True)
class PaymentState:
    """What the dashboard, the slip and the payment history say of one bill."""

    payment: Payment
    words: str  # 「口座振替済み (11月26日)」, 「未納: 納期限 12月10日」, ...
    tone: str  # paid / due / overdue / failed: the CSS modifier of the status
    overdue: bool = False
    # What to do next (a failed transfer, an overdue bill) and whom to call: the contact block.
    next_step: str = ""
    # The CIS learns of a payment days later: an unpaid bill says so, lest it be paid twice.
    reflection_note: bool = False


def _day(day: datetime.date, today: datetime.date) -> str:
    """「11月26日」 in the current year; with its year otherwise, lest 2099 read as this year."""
    if day.year != today.year:
        return jdate_text(day)
    return month_day_text(day)


def describe(payment: Payment, today: datetime.date) -> PaymentState:
    """Return the status of ``payment`` as a resident reads it on ``today``."""
    status, method = payment.status, payment.method
    if status in (Status.PAID, Status.OVERPAID):
        paid_on = _day(payment.paid_on, today)
        if method == Method.TRANSFER:
            words = _("口座振替済み (%(day)s)") % {"day": paid_on}
        else:
            words = _("お支払い済み (%(day)s)") % {"day": paid_on}
        step = ""
        if status == Status.OVERPAID:
            step = _(
                "請求額より多くお支払いいただいています。お返しする方法は、事業者からご案内します。"
            )
        return PaymentState(payment, words, "paid", next_step=step)
    if status == Status.TRANSFER_FAILED:
        return PaymentState(
            payment,
            _("口座振替ができませんでした"),
            "failed",
            next_step=_(
                "残高不足などのため、ご指定の口座から引き落としができませんでした。"
                "後日、納付書を郵送しますので、届いた納付書で金融機関・コンビニエンスストアで"
                "お支払いください。ご不明な点は、下記までお問い合わせください。"
            ),
            reflection_note=True,
        )
    due = _day(payment.due_date, today)
    if payment.due_date < today:
        return PaymentState(
            payment,
            _("未納: 納期限 %(day)s(納期限を過ぎています)") % {"day": due},
            "overdue",
            overdue=True,
            next_step=_(
                "お早めにお支払いください。納付書がお手元にない場合や、お支払いについてご相談が"
                "ある場合は、下記までお問い合わせください。"
            ),
            reflection_note=True,
        )
    if method == Method.TRANSFER:
        words = _("口座振替予定: %(day)s") % {"day": due}
        return PaymentState(payment, words, "due")
    return PaymentState(
        payment, _("未納: 納期限 %(day)s") % {"day": due}, "due", reflection_note=True
    )
