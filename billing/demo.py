"""Fictitious customers with plausible readings and charges for the demo and for tests."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

from django.db import transaction

from portal.models import Utility

from .models import Customer, MeterReading, Notice, Payment
from .tariff import TOKYO_23_WARDS, calculate_charge

SURNAMES = [
    ("水道", "スイドウ"),
    ("山田", "ヤマダ"),
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
]
GIVEN = [
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("一郎", "イチロウ"),
    ("陽子", "ヨウコ"),
    ("健太", "ケンタ"),
    ("美咲", "ミサキ"),
    ("大輔", "ダイスケ"),
    ("由美", "ユミ"),
]
STREETS = {
    "kanazawa": ["金沢市広坂", "金沢市本町", "金沢市泉野町", "金沢市額新保", "金沢市大手町"],
    "nayoro": ["名寄市風連町西町", "名寄市西1条南", "名寄市東3条北", "名寄市徳田"],
}
PHONE_PREFIXES = {"kanazawa": "076", "nayoro": "01654"}
DIAMETERS = [13, 13, 13, 20, 20, 20, 20, 25]
# The day the demo's history runs up to, whatever today is: fixtures/demo_* were made by
# load_demo on this day, so the README's import after `make demo` finds the very same readings.
# Change it only together with those fixtures (load_demo, then dumpdata / the CSV exports).
DEMO_DATE = datetime.date(2026, 12, 1)
JST = ZoneInfo("Asia/Tokyo")


def demo_customer_number(utility: Utility, index: int) -> str:
    """Return the demo contract number ``index`` (1-based) of a utility, zero-padded."""
    return f"{utility.pk}{index:0{utility.customer_number_digits - 1}d}"


def _phone(prefix: str, rng: random.Random) -> str:
    rest = 10 - len(prefix)  # Japanese landlines have ten digits
    return prefix + f"{rng.randrange(10 ** (rest - 1), 10**rest)}"


def _period_ends(today: datetime.date, months_per_period: int, periods: int) -> list[datetime.date]:
    """The ends of the last ``periods`` periods read by ``today``, on a grid fixed in the calendar.

    Meters are read on the 25th. Periods end in the last month of each block of
    ``months_per_period`` months counted from January (two-monthly: February, April, ...,
    December), whatever the day the demo is loaded, so the demo's periods and those of
    ``fixtures/demo_readings.csv`` are the same periods and never overlap.
    """
    end = today.replace(day=25) if today.day > 25 else _add_months(today.replace(day=25), -1)
    end = _add_months(end, -(end.month % months_per_period))
    return [_add_months(end, -months_per_period * i) for i in range(periods)][::-1]


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


@transaction.atomic
def create_demo_customers(
    utility: Utility, count: int = 24, months: int = 24, months_per_period: int = 1
) -> list[Customer]:
    """Create (or keep) ``count`` fictitious contracts with ``months`` of readings each."""
    rng = random.Random(utility.slug)
    ends = _period_ends(DEMO_DATE, months_per_period, months // months_per_period)
    customers = []
    for index in range(1, count + 1):
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN)
        if index == 1:
            surname, given = SURNAMES[0], GIVEN[0]  # 水道 太郎, as in the seeds' examples
        customer, created = Customer.objects.get_or_create(
            utility=utility,
            number=demo_customer_number(utility, index),
            defaults={
                "name": f"{surname[0]} {given[0]}",
                "name_kana": f"{surname[1]} {given[1]}",
                "address": f"{rng.choice(STREETS.get(utility.slug, ['見本市本町']))}"
                f"{rng.randint(1, 5)}丁目{rng.randint(1, 30)}-{rng.randint(1, 20)}",
                "building": rng.choice(
                    ["", "", "", f"ハイツ見本{rng.randint(1, 3)}0{rng.randint(1, 5)}号室"]
                ),
                "phone": _phone(PHONE_PREFIXES.get(utility.slug, "03"), rng),
                "meter_diameter_mm": rng.choice(DIAMETERS),
                "meter_number": f"{rng.randint(10000, 99999)}",
            },
        )
        if created:
            MeterReading.objects.bulk_create(_readings(customer, ends, months_per_period, rng))
        if not customer.payments.exists():  # a demo loaded before bills existed gets them too
            Payment.objects.bulk_create(_payments(utility, index, customer.readings.all()))
        customers.append(customer)
    return customers


def _readings(customer: Customer, ends: list, months_per_period: int, rng: random.Random):
    household = rng.choice([8, 12, 16, 20, 25])  # m³ a month
    index = rng.randint(100, 3000)
    for end in ends:
        start = _add_months(end, -months_per_period) + datetime.timedelta(days=1)
        seasonal = 1.2 if end.month in (7, 8, 9) else 1.0
        usage = max(0, round(household * months_per_period * seasonal * rng.uniform(0.8, 1.2)))
        charge = calculate_charge(
            TOKYO_23_WARDS, customer.meter_diameter_mm, usage, months_per_period
        )
        yield MeterReading(
            customer=customer,
            period_start=start,
            period_end=end,
            read_on=end,
            previous_index=index,
            current_index=index + usage,
            usage_m3=usage,
            water_charge=charge.water,
            sewer_charge=charge.sewer,
            tax=charge.tax,
            total=charge.total,
            # Told already: importing the demo CSVs again mails nobody (README).
            mailed_total=charge.total,
        )
        index += usage


# Who pays how, and the demo's cases of each status (README, demo accounts): the demo's
# residents see a transfer that went through (kanazawa 1), one that failed (kanazawa 2), a
# slip past its 納期限 (kanazawa 3), a smartphone payment not yet seen by the CIS (nayoro 1),
# a slip paid before its 納期限 (nayoro 2) and a card payment to come (nayoro 3).
DEMO_METHODS = {
    ("kanazawa", 3): Payment.Method.SLIP,
    ("nayoro", 1): Payment.Method.SMARTPHONE,
    ("nayoro", 2): Payment.Method.SLIP,
    ("nayoro", 3): Payment.Method.CARD,
}
DEMO_LATEST = {
    ("kanazawa", 2): Payment.Status.TRANSFER_FAILED,
    ("kanazawa", 3): Payment.Status.UNPAID,
    ("nayoro", 2): Payment.Status.PAID,
}
DEMO_IMPORTED_AT = datetime.datetime.combine(DEMO_DATE, datetime.time(6), tzinfo=JST)


def demo_due_date(period_end: datetime.date) -> datetime.date:
    """The 納期限 of a demo bill: the 26th of the month after the period (口座振替日)."""
    return _add_months(period_end, 1).replace(day=26)


def _payments(utility: Utility, index: int, readings) -> list[Payment]:
    """One bill per reading: paid on its 納期限 if that came by DEMO_DATE, else unpaid."""
    method = DEMO_METHODS.get(
        (utility.slug, index),
        Payment.Method.SLIP if index % 5 == 0 else Payment.Method.TRANSFER,
    )
    readings = sorted(readings, key=lambda r: r.period_end)
    bills = []
    for reading in readings:
        due = demo_due_date(reading.period_end)
        status = Payment.Status.PAID if due <= DEMO_DATE else Payment.Status.UNPAID
        if reading is readings[-1]:
            status = DEMO_LATEST.get((utility.slug, index), status)
        paid_on = None
        if status == Payment.Status.PAID:
            # A slip or an app is paid some days before the 納期限, a transfer on it; a
            # bill paid before DEMO_DATE whose 納期限 is later was paid the day before.
            early = due if method == Payment.Method.TRANSFER else due - datetime.timedelta(days=6)
            paid_on = min(early, DEMO_DATE - datetime.timedelta(days=1))
        elif status == Payment.Status.TRANSFER_FAILED:
            paid_on = due  # the day the transfer was tried
        bills.append(
            Payment(
                customer_id=reading.customer_id,
                period_start=reading.period_start,
                period_end=reading.period_end,
                billed_amount=reading.total,
                due_date=due,
                method=method,
                paid_on=paid_on,
                paid_amount=reading.total if status == Payment.Status.PAID else 0,
                status=status,
                imported_at=DEMO_IMPORTED_AT,
            )
        )
    return bills


# お知らせ of the demo (fictitious): one for everyone and public (on the login page), one for
# an area. Published on DEMO_DATE with no end, so they show whatever today is.
DEMO_NOTICES = {
    "kanazawa": [
        {
            "title": "ポータルサイトの定期メンテナンスのお知らせ",
            "category": Notice.Category.SYSTEM,
            "important": True,
            "public": True,
            "body": "毎月第2日曜日の午前2時から午前7時まで、システムの点検のため"
            "ポータルサイトをご利用いただけません。\nご不便をおかけしますが、ご了承ください。",
        },
        {
            "title": "配水管工事に伴う断水のお知らせ(泉野町地区)",
            "category": Notice.Category.OUTAGE,
            "important": True,
            "audience": Notice.Audience.AREAS,
            "area_prefixes": "金沢市泉野町",
            "body": "配水管の取り替え工事のため、泉野町の一部で午前9時から正午まで断水します。\n"
            "断水の前後に濁った水が出ることがあります。しばらく水を流してからお使いください。",
        },
    ],
    "nayoro": [
        {
            "title": "水道料金の改定について",
            "category": Notice.Category.TARIFF,
            "body": "令和9年4月のご使用分から、水道料金の基本料金を改定します。\n"
            "詳しくはお問い合わせ先までお尋ねください。",
        },
    ],
}


def create_demo_notices(utility: Utility) -> int:
    """Create the demo's お知らせ of ``utility`` unless they exist; return how many it has."""
    publish_at = datetime.datetime.combine(DEMO_DATE, datetime.time(9), tzinfo=JST)
    for fields in DEMO_NOTICES.get(utility.slug, []):
        Notice.objects.get_or_create(
            utility=utility,
            title=fields["title"],
            defaults={**fields, "publish_at": publish_at},
        )
    return Notice.objects.filter(utility=utility).count()
