"""What makes a contract's readings trustworthy, in one place for the admin, the importer and
the migrations.

- A contract's periods never overlap (both ends inclusive): usage would be counted twice and
  「前回」 compared against a period that overlaps this one. PostgreSQL holds this itself with
  the exclusion constraint ``reading_periods_do_not_overlap``; elsewhere ``clean`` and the
  importer do.
- A period starts on or before its end, is at most ``31 × billing cycle + 7`` days long, and
  its meter was read within ``READ_ON_DAYS`` of its end.
- ``flag``: 「rollover」 when this index is below the previous one (the meter went round or
  was replaced: usage_m3 stands as given, up to what the register can count: see
  ``imports.rows.check_reading``); 「gap」 when previous_index is not the previous
  period's current_index. A flagged row is stored and listed for staff, never refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from django.db import connection
from django.utils.translation import gettext as _

READ_ON_DAYS = 7
OVERLAP_CONSTRAINT = "reading_periods_do_not_overlap"
ROLLOVER, GAP = "rollover", "gap"


class _Indexes(Protocol):
    previous_index: int
    current_index: int


def max_period_days(billing_cycle_months: int) -> int:
    """The longest period a utility billing every ``billing_cycle_months`` months may store."""
    return 31 * billing_cycle_months + 7


# Dates print as YYYY-MM-DD, whether a date or the text SQLite gives back.
def overlap_message(start, end, stored_start, stored_end) -> str:
    return _("%(start)s〜%(end)s は保存済みの %(stored_start)s〜%(stored_end)s と重なります") % {
        "start": start,
        "end": end,
        "stored_start": stored_start,
        "stored_end": stored_end,
    }


def file_overlap_message(start, end, line: int, other_start, other_end) -> str:
    return _("%(start)s〜%(end)s は %(line)d行目の %(other_start)s〜%(other_end)s と重なります") % {
        "start": start,
        "end": end,
        "line": line,
        "other_start": other_start,
        "other_end": other_end,
    }


def date_problems(start, end, read_on, longest: int | None) -> list[tuple[str, str]]:
    """(field, message) of what is wrong with a period's dates: an end before the start, more
    than ``longest`` days, or a reading day more than ``READ_ON_DAYS`` from the end."""
    problems, days = [], (end - start).days + 1
    if days < 1:
        problems.append(("period_end", _("使用期間(開始)より前の日付です。")))
    elif longest is not None and days > longest:
        message = _("使用期間が%(days)d日あります(%(longest)d日までです)。")
        problems.append(("period_end", message % {"days": days, "longest": longest}))
    if read_on is not None and abs((read_on - end).days) > READ_ON_DAYS:
        message = _("検針日は使用期間(終了)の前後%(days)d日以内の日付です。")
        problems.append(("read_on", message % {"days": READ_ON_DAYS}))
    return problems


def period_problems(reading) -> dict[str, str]:
    """{field: message} for what is wrong with one reading's dates (the admin form's check)."""
    from .models import MeterReading  # models import this module lazily from ``clean``

    start, end, read_on = reading.period_start, reading.period_end, reading.read_on
    if start is None or end is None:
        return {}
    customer = reading.customer if reading.customer_id else None
    longest = max_period_days(customer.utility.billing_cycle_months) if customer else None
    problems = dict(date_problems(start, end, read_on, longest))
    if end < start:
        return {"period_end": problems["period_end"]}
    if customer is not None:
        clash = (
            MeterReading.objects.filter(
                customer_id=reading.customer_id, period_start__lte=end, period_end__gte=start
            )
            .exclude(pk=reading.pk)
            .order_by("period_start")
            .first()
        )
        if clash is not None:
            problems["period_start"] = overlap_message(
                start, end, clash.period_start, clash.period_end
            )
    return problems


def flags(readings: Sequence[_Indexes]) -> list[str]:
    """The flag of each of one contract's readings, given in the order of their periods."""
    result, before = [], None
    for reading in readings:
        if reading.current_index < reading.previous_index:
            result.append(ROLLOVER)
        elif before is not None and reading.previous_index != before.current_index:
            result.append(GAP)
        else:
            result.append("")
        before = reading
    return result


def refresh_flags(customer_ids: Iterable[int]) -> None:
    """Set the flags of these contracts' readings (after a reading is saved or deleted)."""
    from .models import MeterReading

    for customer_id in set(customer_ids):
        readings = list(
            MeterReading.objects.filter(customer_id=customer_id)
            .order_by("period_start")
            .only("id", "previous_index", "current_index", "flag")
        )
        changed = []
        for reading, flag in zip(readings, flags(readings), strict=True):
            if reading.flag != flag:
                reading.flag = flag
                changed.append(reading)
        MeterReading.objects.bulk_update(changed, ["flag"])


def flag_sql(row: str, before_current_index: str) -> str:
    """The rule of ``flags`` in SQL, for the reading ``row`` (a table's name or alias) whose
    previous period's current_index is ``before_current_index`` (NULL if it has none)."""
    return (
        f"CASE WHEN {row}.current_index < {row}.previous_index THEN '{ROLLOVER}' "
        f"WHEN {before_current_index} <> {row}.previous_index THEN '{GAP}' ELSE '' END"
    )


def flag_changes_sql(customers_sql: str) -> str:
    """SELECT (id, customer_id, period_end, new flag) of the readings whose flag is no longer
    right, of the contracts ``customers_sql`` selects: the rule of ``flags``, for the importer.
    """
    # Periods never overlap, so their ends sort them as their starts do, and the unique index
    # on (customer, period_end) gives that order without a sort.
    table = connection.ops.quote_name("billing_meterreading")
    before = "LAG(r.current_index) OVER (PARTITION BY r.customer_id ORDER BY r.period_end)"
    return (
        f"SELECT id, customer_id, period_end, flag FROM (SELECT id, customer_id, period_end, "
        f"flag AS was, {flag_sql('r', before)} AS flag "
        f"FROM {table} r WHERE customer_id IN ({customers_sql})) f WHERE flag <> was"
    )


def overlapping_pairs_sql(where: str = "", table: str = "billing_meterreading") -> str:
    """SELECT (customer_id, first id, start, end, second id, start, end) of overlapping periods
    of ``table`` (readings, or bills: billing_payment).

    Each pair once, the earlier-ending period first. ``where`` narrows the first row ``a``.
    """
    return (
        "SELECT a.customer_id, a.id, a.period_start, a.period_end, "
        "b.id, b.period_start, b.period_end "
        f"FROM {table} a JOIN {table} b "
        "ON b.customer_id = a.customer_id AND b.period_end > a.period_end "
        "AND b.period_start <= a.period_end "
        f"{'WHERE ' + where if where else ''} "
        "ORDER BY a.customer_id, a.period_end, b.period_end"
    )
