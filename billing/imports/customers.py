"""Import contracts: all or nothing, one INSERT ... ON CONFLICT DO UPDATE of the staged rows
that are new or differ, by (utility, customer number)."""

from __future__ import annotations

from functools import partial

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from .. import pdf
from ..signals import customers_imported
from . import stage
from .csvfile import records
from .result import ImportResult, utility_rules
from .rows import CUSTOMER_COLUMNS, CustomerRow, parse_customer

CUSTOMERS = "billing_customer"
CUSTOMERS_LOCK = 0x63757374  # "cust"
FIELDS = CUSTOMER_COLUMNS[2:]  # the stored columns the file gives


def import_customers(stream, *, encoding=None, utility: Utility | None = None, **options):
    """Upsert contracts from a CSV; write nothing if any row is bad. ``utility`` limits the rows
    to that utility's (a staff member's upload); ``options`` are ImportResult's (dry_run,
    max_errors, progress, writing)."""
    result, rules, new = ImportResult(**options), utility_rules(utility), []
    with stage.importing(CUSTOMERS_LOCK, CustomerRow, result) as cursor:
        items = records(stream, CUSTOMER_COLUMNS, encoding=encoding)
        parse = partial(_parse, rules=rules, result=result)
        stage.fill(cursor, CustomerRow, items, parse, result)
        message = _("%(line)d行目と customer_number が同じです。")
        stage.refuse_repeats(cursor, result, ("utility_id", "customer_number"), message)
        if result.ok:
            new = _merge(cursor, result)
    if result.ok and not result.dry_run and new:
        transaction.on_commit(partial(_announce, new))
    return result


def _announce(new: list[tuple[int, str]]) -> None:
    for utility in Utility.objects.filter(pk__in={utility_id for utility_id, _number in new}):
        numbers = [number for utility_id, number in new if utility_id == utility.pk]
        customers_imported.send(Utility, utility=utility, numbers=numbers)


def _parse(record, rules, result: ImportResult):
    """parse_customer, noting the printed fields the PDFs' font cannot set (written anyway)."""
    row = parse_customer(record, rules)
    if isinstance(row, CustomerRow) and len(result.warnings) < result.max_errors:
        result.warnings.extend(pdf.unprintable_warnings(row.line, row._asdict()))
    return row


def _merge(cursor, result: ImportResult) -> list[tuple[int, str]]:
    """Insert new contracts, update those that differ; return the new ones' (utility, number)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sets = ", ".join(f"{n} = excluded.{n}" for n in FIELDS)
    differs = " OR ".join(f"{CUSTOMERS}.{n} <> excluded.{n}" for n in FIELDS)
    # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    upsert = (
        f"INSERT INTO {CUSTOMERS} (utility_id, number, {', '.join(FIELDS)}, updated_at) "
        f"SELECT utility_id, customer_number, {', '.join(FIELDS)}, %s FROM {stage.TABLE} "
        f"WHERE true ON CONFLICT (utility_id, number) DO UPDATE SET {sets}, "
        f"updated_at = excluded.updated_at WHERE {differs}"
    )
    cursor.execute(
        f"SELECT utility_id, customer_number FROM {stage.TABLE} s WHERE NOT EXISTS (SELECT 1 "
        f"FROM {CUSTOMERS} c WHERE c.utility_id = s.utility_id AND c.number = s.customer_number)"
    )
    new = cursor.fetchall()
    cursor.execute(upsert, [now])  # counts the rows it inserted and those it updated
    result.inserted, result.updated = len(new), cursor.rowcount - len(new)
    result.unchanged = result.rows - cursor.rowcount
    return new
