"""python manage.py import_readings PATH: upsert the meter readings and charges of a CIS export."""

from __future__ import annotations

from billing.services import import_readings

from ._import import ImportCommand


class Command(ImportCommand):
    help = (
        "検針・料金のCSVを取り込みます。1行でも誤りがあれば何も書き込みません。"
        "列: utility,customer_number,period_start,period_end,read_on,previous_index,"
        "current_index,usage_m3,water_charge,sewer_charge,tax,total"
    )
    service = staticmethod(import_readings)
    what = "検針"
