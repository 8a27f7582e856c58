"""python manage.py import_payments PATH: upsert the bills and payments of a CIS export."""

from __future__ import annotations

from billing.imports import import_payments

from ._import import ImportCommand


class Command(ImportCommand):
    help = (
        "請求・収納のCSVを取り込みます。1行でも誤りがあれば何も書き込みません。"
        "列: utility,customer_number,period_start,period_end,billed_amount,due_date,method,"
        "paid_on,paid_amount,status"
    )
    service = staticmethod(import_payments)
    what = "請求・収納"
