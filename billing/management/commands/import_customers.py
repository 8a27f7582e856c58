"""python manage.py import_customers PATH: upsert the contracts of a CIS export."""

from __future__ import annotations

from billing.imports import import_customers

from ._import import ImportCommand


class Command(ImportCommand):
    help = (
        "契約(お客様)のCSVを取り込みます。1行でも誤りがあれば何も書き込みません。"
        "列: utility,customer_number,name,name_kana,address,building,phone,"
        "meter_diameter_mm,meter_number"
    )
    service = staticmethod(import_customers)
    what = "契約"
