"""Import meter readings: all or nothing, an upsert by (contract, period end). Staged rows
are checked in SQL (_check), merged (_merge: replaced periods deleted, rows that differ
updated, new ones inserted), then the contracts' flags (integrity.py) set again (_set_flags)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from .. import billmail, integrity
from . import payments, rows, stage
from .csvfile import records
from .result import ImportResult, unknown_customer, utility_rules
from .rows import READING_COLUMNS, READING_OPTIONAL, Reading, plain_block, plain_lines

READINGS_LOCK = 0x62696C6C  # "bill"
S = stage.TABLE
CHANGED = "billing_import_flag_changes"
REPLACED = "billing_import_replaced"
READINGS = '"billing_meterreading"'  # quoted as Django quotes it (monitoring matches on it)
VALUES = READING_COLUMNS[2:]  # the stored columns the file gives
# A stored period overlapping a staged row (different end), and not itself in the file.
_STORED_OVERLAP = (
    f"FROM {S} s JOIN {READINGS} r ON r.customer_id = s.customer_id "
    "AND r.period_end >= s.period_start AND r.period_start <= s.period_end "
    "AND r.period_end <> s.period_end "
    f"WHERE NOT EXISTS (SELECT 1 FROM {S} o WHERE o.customer_id = r.customer_id "
    "AND o.period_end = r.period_end)"
)
# Each check selects (line, column, what the message names) of the rows it refuses; a stored
# period another row of the file replaces is no overlap (the file leaves it deleted).
_STORED_OVERLAPS = (
    "SELECT s.line, 'period_start', s.period_start, s.period_end, r.period_start, "
    f"r.period_end {_STORED_OVERLAP} AND NOT EXISTS (SELECT 1 FROM {S} q "
    "WHERE q.customer_id = r.customer_id AND q.replaces_period_end = r.period_end)"
)
# A row overlapping an earlier line of the file for the same contract.
_FILE_OVERLAPS = (
    f"SELECT s.line, 'period_start', s.period_start, s.period_end, o.line, o.period_start, "
    f"o.period_end FROM {S} s JOIN {S} o ON o.customer_id = s.customer_id "
    "AND o.period_start <= s.period_end AND o.period_end >= s.period_start AND o.line < s.line"
)
# replaces_period_end must name a stored period of the contract that this row overlaps, unless
# the row's own period is stored (the correction was imported before: an upsert).
_BAD_CORRECTIONS = (
    f"SELECT s.line, 'replaces_period_end', s.replaces_period_end FROM {S} s "
    "WHERE s.replaces_period_end IS NOT NULL AND s.customer_id IS NOT NULL AND NOT EXISTS "
    f"(SELECT 1 FROM {READINGS} r WHERE r.customer_id = s.customer_id "
    "AND ((r.period_end = s.replaces_period_end AND r.period_start <= s.period_end "
    "AND r.period_end >= s.period_start) OR r.period_end = s.period_end))"
)
KEY = ("utility_id", "customer_number", "period_end")
# Each staged row beside the line before it (p), and that line's current_index if it is the
# same contract's: in a file in contract order, the previous period's (SQLite: _Plan).
_LINE_BEFORE = f"FROM {S} s LEFT JOIN {S} p ON p.line = s.line - 1"
_FLAG = integrity.flag_sql("s", "CASE WHEN p.customer_id = s.customer_id THEN p.current_index END")
# The id, line and flag of each reading flagged, if every reading of the file's contracts is a
# row of the file and the file is in contract order.
_FILE_FLAGS = (
    f"SELECT r.id, f.line, f.flag FROM (SELECT s.line, s.customer_id, s.period_end, "
    f"{_FLAG} AS flag {_LINE_BEFORE}) f CROSS JOIN {READINGS} r WHERE f.flag <> '' "
    "AND r.customer_id = f.customer_id AND r.period_end = f.period_end"
)


def import_readings(
    stream, *, encoding=None, utility: Utility | None = None, replace_overlapping=False, **options
) -> ImportResult:
    """Upsert a CIS export's readings; write nothing if any row is bad. ``utility`` limits the
    rows to that utility's; ``replace_overlapping`` lets a row replace every stored period it
    overlaps; ``options`` are ImportResult's (dry_run, max_errors, progress, writing)."""
    result, rules, dates = ImportResult(**options), utility_rules(utility), {}
    with stage.importing(READINGS_LOCK, Reading, result) as cursor:
        items = records(stream, READING_COLUMNS, READING_OPTIONAL, encoding, plain_block(rules))
        parse = partial(rows.parse_reading, utilities=rules, dates=dates)
        plain = partial(plain_lines, utilities=rules, dates=dates)
        stage.fill(cursor, Reading, items, parse, result, plain)
        plan = _check(cursor, timezone.localdate(), result, replace_overlapping)
        if result.ok:
            _merge(cursor, result, replace_overlapping, plan)
        if result.ok:  # _merge may refuse the file after a race
            _set_flags(cursor, result, plan)
            payments.warn_overlapped_bills(cursor, result)
    return result


@dataclass(frozen=True)
class _Plan:
    """Which checks and steps have something to do: known on SQLite from _survey (no writer
    can come between the checks and the merge); on PostgreSQL every one runs."""

    met: bool  # two rows of one contract share a day
    unknown: bool = True  # a row names no stored contract
    corrections: bool = True  # a row names the period it replaces
    stored: bool = True  # some of the file's contracts have stored readings
    in_order: bool = False  # each row's line - 1 is its contract's previous period, if any
    flagged: bool = True  # in order: a row's flag is not blank


def _check(cursor, today: datetime.date, result: ImportResult, replace_overlapping: bool):
    if connection.vendor == "postgresql":  # SQLite found the contracts as it staged the rows
        cursor.execute(f"ANALYZE {S}")
        cursor.execute(
            f"UPDATE {S} SET customer_id = c.id FROM billing_customer c "
            f"WHERE c.utility_id = {S}.utility_id AND c.number = {S}.customer_number"
        )
    _refuse_bad_rows(cursor, today, result)
    plan = _survey(cursor) if connection.vendor == "sqlite" else _Plan(_periods_meet(cursor))
    unknown = f"SELECT line, 'customer_number' FROM {S} WHERE customer_id IS NULL"
    if plan.unknown:
        stage.refuse(cursor, unknown, result, unknown_customer)
    repeat = _("%(line)d行目と customer_number・period_end が同じです。")
    if plan.met and not stage.refuse_repeats(cursor, result, KEY, repeat):
        stage.refuse(cursor, _FILE_OVERLAPS, result, integrity.file_overlap_message)
    message = _("%(end)s に終わる保存済みの使用期間で、この行と重なるものはありません。")
    if plan.corrections:
        stage.refuse(cursor, _BAD_CORRECTIONS, result, lambda end: message % {"end": end})
    if plan.stored and not replace_overlapping:
        stage.refuse(cursor, _STORED_OVERLAPS, result, integrity.overlap_message)
    return plan


def _refuse_bad_rows(cursor, today: datetime.date, result: ImportResult) -> None:
    bad, params = rows.bad_reading_sql(connection.vendor), {"today": today}
    # Dates as the file wrote them (PostgreSQL would give date objects).
    names = (f"CAST({n} AS text)" if t == "date" else n for n, t in stage.columns(Reading).items())
    sql = f"SELECT {', '.join(names)} FROM {S} WHERE {bad}"
    count, found = stage.first_rows(cursor, sql, params, result.max_errors)
    if not count:
        return
    for reading in map(Reading._make, found):
        errors = rows.check_reading(reading, today)
        if not errors:  # the two halves of the rule must agree; never import on a doubt
            raise RuntimeError(f"line {reading.line} fails bad_reading_sql but not check_reading")
        for error in errors:
            result.add_error(error)
    result.error_count += count - len(found)
    result.rows -= count
    cursor.execute(f"DELETE FROM {S} WHERE {bad}", params)


def _periods_meet(cursor) -> bool:
    """Whether two rows of one contract share a day (a repeated key does): one sorted pass."""
    before = "LAG(period_end) OVER (PARTITION BY customer_id ORDER BY period_start)"
    cursor.execute(
        f"SELECT COUNT(*) FROM (SELECT period_start, {before} AS before_end FROM {S} "
        "WHERE customer_id IS NOT NULL) w WHERE period_start <= before_end"
    )
    return bool(cursor.fetchone()[0])


def _survey(cursor) -> _Plan:
    """SQLite: one pass, each staged row beside the line before it (the row id: no sort). In
    contract and period order, periods meet where a row starts by the end of the line before;
    else _periods_meet sorts (as always on PostgreSQL)."""
    key = ("utility_id", "customer_number", "period_start")
    same = "p.utility_id = s.utility_id AND p.customer_number = s.customer_number"
    stored = f"EXISTS (SELECT 1 FROM {READINGS} r WHERE r.customer_id = s.customer_id)"
    cursor.execute(
        "SELECT COUNT(*) - COUNT(s.customer_id), COUNT(s.replaces_period_end), "
        "COUNT(s.customer_id) - COUNT(CASE WHEN s.customer_id IS NOT NULL THEN p.customer_id "
        f"END), COUNT(CASE WHEN ({', '.join('p.' + c for c in key)}) > "
        f"({', '.join('s.' + c for c in key)}) THEN 1 END), "
        f"COUNT(CASE WHEN {same} AND s.period_start <= p.period_end THEN 1 END), "
        f"COUNT(CASE WHEN {_FLAG} <> '' THEN 1 END), COUNT(CASE WHEN p.customer_id IS NOT "
        f"s.customer_id AND {stored} THEN 1 END) {_LINE_BEFORE}"
    )
    unknown, corrections, unpaired, unordered, met, flagged, stored = cursor.fetchone()
    in_order = unpaired <= 1 and not unordered and not unknown
    met = bool(met) if in_order else _periods_meet(cursor)
    return _Plan(met, *map(bool, (unknown, corrections, stored)), in_order, bool(flagged))


def _merge(cursor, result: ImportResult, replace_overlapping: bool, plan: _Plan) -> None:
    warned = len(result.warnings)
    try:
        with transaction.atomic():
            _write(cursor, result, replace_overlapping, plan)
    except IntegrityError:
        if connection.vendor != "postgresql":
            raise
        del result.warnings[warned:]  # the write undone, its warnings come again with it
        cursor.execute(f"LOCK TABLE {READINGS} IN SHARE ROW EXCLUSIVE MODE")
        if not replace_overlapping:
            stage.refuse(cursor, _STORED_OVERLAPS, result, integrity.overlap_message)
        if result.ok:
            _write(cursor, result, replace_overlapping, plan)


def _delete_replaced(cursor, result: ImportResult, replace_overlapping: bool) -> None:
    """Delete the stored periods the file's corrections replace, noted beside their rows."""
    named = "" if replace_overlapping else "AND s.replaces_period_end = r.period_end"
    new = f"SELECT 1 FROM {READINGS} k WHERE k.customer_id = s.customer_id AND k.period_end"
    cursor.execute(
        f"CREATE TEMPORARY TABLE {REPLACED} AS SELECT s.line, s.customer_id, s.customer_number, "
        "s.period_start AS new_start, s.period_end AS new_end, r.period_start, r.period_end, "
        f"r.mailed_total, r.mail_count, r.mailed_period_start, r.mailed_period_end, "
        f"(s.replaces_period_end IS NOT NULL OR NOT EXISTS "
        f"({new} = s.period_end)) AS takes_over {_STORED_OVERLAP} {named}"
    )
    replaced = (
        f"SELECT MIN(line), MIN(customer_number), period_start, period_end FROM {REPLACED} "
        "GROUP BY customer_id, period_start, period_end"
    )
    result.replaced, result.replaced_periods = stage.first_rows(
        cursor, replaced, (), result.max_errors, order="1, 3"
    )
    if result.replaced:
        cursor.execute(
            f"DELETE FROM {READINGS} WHERE (customer_id, period_end) IN "
            f"(SELECT customer_id, period_end FROM {REPLACED})"
        )


def _write(cursor, result: ImportResult, replace_overlapping: bool, plan: _Plan) -> None:
    result.updated = 0
    if plan.stored:
        _delete_replaced(cursor, result, replace_overlapping)
        compared = [name for name in VALUES if name != "period_end"]
        cursor.execute(
            f"UPDATE {READINGS} SET {', '.join(f'{n} = s.{n}' for n in compared)} FROM {S} s "
            f"WHERE {READINGS}.customer_id = s.customer_id AND {READINGS}.period_end = "
            f"s.period_end AND ({' OR '.join(f'{READINGS}.{n} <> s.{n}' for n in compared)})"
        )
        result.updated = cursor.rowcount
        payments.follow_readings(cursor, result, REPLACED)
    # SQLite has one writer; on PostgreSQL a key taken meanwhile must fail the insert (_merge).
    new = (
        "WHERE true ON CONFLICT (customer_id, period_end) DO NOTHING"
        if connection.vendor == "sqlite"
        else f"WHERE NOT EXISTS (SELECT 1 FROM {READINGS} r "
        "WHERE r.customer_id = s.customer_id AND r.period_end = s.period_end) "
        # The exclusion constraint's GiST index: 2x as fast period by period as contract by contract
        "ORDER BY s.period_end, s.customer_id"
    )
    cursor.execute(
        f"INSERT INTO {READINGS} (customer_id, {', '.join(VALUES)}) "
        f"SELECT s.customer_id, {', '.join('s.' + n for n in VALUES)} FROM {S} s {new}"
    )
    moved = min(result.replaced, cursor.rowcount)  # a correction replacing a period: updated
    result.inserted, result.updated = cursor.rowcount - moved, result.updated + moved
    if result.replaced:
        _carry_over(cursor)
    if result.updated:  # a told period split, the other piece new: billmail
        billmail.carry_told_state(cursor, S)
    cursor.execute(f"DROP TABLE IF EXISTS {REPLACED}")
    result.unchanged = result.rows - result.inserted - result.updated


def _carry_over(cursor) -> None:
    """A row taking over stored periods (naming one, or new) keeps what was mailed of the
    latest one mailed (the dates told, not later ones held): its change is a correction."""
    latest = (
        "SELECT m.mailed_total, m.mail_count, m.mailed_period_start, "
        f"COALESCE(m.mailed_period_end, m.period_end) FROM {REPLACED} m "
        f"WHERE m.customer_id = {READINGS}.customer_id AND m.new_end = {READINGS}.period_end "
        "AND m.takes_over AND m.mail_count > 0 ORDER BY m.period_end DESC LIMIT 1"
    )
    keys = f"(customer_id, period_end) IN (SELECT customer_id, new_end FROM {REPLACED} WHERE takes_over"
    cursor.execute(
        f"UPDATE {READINGS} SET (mailed_total, mail_count, mailed_period_start, mailed_period_end)"
        f" = ({latest}) WHERE mail_count = 0 AND {keys} AND mail_count > 0)"
    )


def _set_flags(cursor, result: ImportResult, plan: _Plan) -> None:
    """Flag the file's contracts' readings again, unless the file changed nothing (a re-run);
    list the flagged lines and the stored readings newly flagged (after a corrected period)."""
    flagged = (
        f"SELECT s.line, r.flag FROM {S} s JOIN {READINGS} r ON r.customer_id = s.customer_id "
        "AND r.period_end = s.period_end WHERE r.flag <> ''"
    )
    if plan.in_order and not plan.stored:
        if not plan.flagged:
            return
        _flag_again(cursor, _FILE_FLAGS)
        flagged = f"SELECT line, flag FROM {CHANGED}"
    elif result.inserted or result.updated or result.replaced:
        _flag_again(cursor, integrity.flag_changes_sql(f"SELECT customer_id FROM {S}"))
        newly = (  # not in the file
            f"SELECT n.number, r.period_start, r.period_end, c.flag FROM {CHANGED} c "
            f"JOIN {READINGS} r ON r.id = c.id JOIN billing_customer n ON n.id = c.customer_id "
            f"WHERE c.flag <> '' AND NOT EXISTS (SELECT 1 FROM {S} s "
            "WHERE s.customer_id = c.customer_id AND s.period_end = c.period_end)"
        )
        result.flagged, result.flagged_stored = stage.first_rows(
            cursor, newly, (), result.max_errors, order="1, 2"
        )
    count, found = stage.first_rows(cursor, flagged, (), result.max_errors)
    result.flagged += count
    result.line_flags = dict(found)
    result.flagged_lines = list(result.line_flags)
    cursor.execute(f"DROP TABLE IF EXISTS {CHANGED}")


def _flag_again(cursor, changes: str) -> None:
    cursor.execute(f"CREATE TEMPORARY TABLE {CHANGED} AS {changes}")
    cursor.execute(
        f"UPDATE {READINGS} SET flag = c.flag FROM {CHANGED} c WHERE c.id = {READINGS}.id"
    )
