"""Import bills and payments (請求・収納): all or nothing, an upsert by (contract, period end).

The same contract as contracts and readings, on the same framework (csvfile → stage → result):

1. Imports of payments take turns (stage.importing).
2. Every record is read and checked whole in Python (``parse_payment``): each field, then what
   ties them together (the period, the due date after it, a status its amounts and day agree
   with). A CIS writes one row a contract and period, so no fast path per block is needed.
3. SQL checks the staged rows against the database: contracts that exist, keys the file
   repeats, a period that is not the stored reading's of that contract or overlaps a stored
   bill of another period.
4. Merge: rows that differ are updated, new ones inserted, and ``imported_at`` set on every
   row of the file (an unchanged row was confirmed by this export: the residents' 「…までに確認
   できたお支払い」 is the day of the latest file that carried it), and
   the residents' cached pages are dropped so the new status shows at once. On PostgreSQL the
   table is closed to other writers from the checks against stored rows to the commit.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from functools import partial
from typing import NamedTuple

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from .. import integrity
from ..integrity import date_problems
from ..models import Payment
from . import stage
from .csvfile import Record, RowError, records
from .result import ImportResult, unknown_customer, utility_rules
from .rows import IsoDate, UtilityRules, _customer_number, _date, _integer, _utility

PAYMENT_COLUMNS = tuple(
    "utility,customer_number,period_start,period_end,billed_amount,due_date,method,paid_on,"
    "paid_amount,status".split(",")
)
PAYMENTS_LOCK = 0x70617920  # "pay "
S = stage.TABLE
PAYMENTS = "billing_payment"
READINGS = '"billing_meterreading"'
CORRECTIONS = "billing_periodcorrection"
VALUES = PAYMENT_COLUMNS[2:]  # the stored columns the file gives
Method, Status = Payment.Method, Payment.Status
# The file may name a method or status by its code or by the word on the bill.
METHODS = {**{m.value: m.value for m in Method}, **{str(m.label): m.value for m in Method}}
STATUSES = {**{s.value: s.value for s in Status}, **{str(s.label): s.value for s in Status}}
RECEIVED = (Status.PAID, Status.OVERPAID)


class PaymentRow(NamedTuple):
    line: int
    utility_id: int
    customer_number: str
    period_start: IsoDate
    period_end: IsoDate
    billed_amount: int
    due_date: IsoDate
    method: str
    paid_on: IsoDate | None
    paid_amount: int
    status: str


def import_payments(stream, *, encoding=None, utility: Utility | None = None, **options):
    """Upsert the bills and payments of a CIS export; write nothing if any row is bad.

    ``utility`` limits the rows to that utility's; ``options`` are ImportResult's.
    """
    result = ImportResult(flags=False, **options)
    rules, dates, today = utility_rules(utility), {}, timezone.localdate()
    with stage.importing(PAYMENTS_LOCK, PaymentRow, result) as cursor:
        items = records(stream, PAYMENT_COLUMNS, encoding=encoding)
        parse = partial(parse_payment, utilities=rules, dates=dates, today=today)
        stage.fill(cursor, PaymentRow, items, parse, result)
        if connection.vendor == "postgresql":
            # Checked against the stored bills and written with no other writer in between (a
            # bill typed in the admin waits; readers do not). SQLite has one writer anyway.
            cursor.execute(f"LOCK TABLE {PAYMENTS} IN SHARE ROW EXCLUSIVE MODE")
        _check(cursor, result)
        if result.ok:
            _write(cursor, result)
    return result


def parse_payment(
    record: Record,
    utilities: Mapping[str, UtilityRules],
    dates: dict[str, IsoDate],
    today: datetime.date,
) -> PaymentRow | list[RowError]:
    """Check one record whole: each field, then how they agree; the row or its errors."""
    line, errors = record.line, []
    f = dict(zip(PAYMENT_COLUMNS, record.fields, strict=True))
    rules = _utility(line, f["utility"], utilities, errors)
    number = _customer_number(line, f["customer_number"], rules, errors)
    start, end, due = (
        _date(line, n, f[n], dates, errors) for n in PAYMENT_COLUMNS[2:4] + ("due_date",)
    )
    paid_on = _date(line, "paid_on", f["paid_on"], dates, errors) if f["paid_on"].strip() else None
    billed = _integer(line, "billed_amount", f["billed_amount"].strip(), errors)
    paid = _integer(line, "paid_amount", f["paid_amount"].strip() or "0", errors)
    method = _choice(line, "method", f["method"], METHODS, errors)
    status = _choice(line, "status", f["status"], STATUSES, errors)
    if errors:
        return errors
    row = PaymentRow(line, rules.id, number, start, end, billed, due, method, paid_on, paid, status)
    errors = check_payment(row, rules.max_days, today)
    return errors or row


def check_payment(row: PaymentRow, max_days: int, today: datetime.date) -> list[RowError]:
    """What is wrong with a row whose fields are each right: dates, status, amounts."""
    errors: list[RowError] = []

    def refuse(column: str, message: str) -> None:
        errors.append(RowError(row.line, column, message))

    start, end, due = map(
        datetime.date.fromisoformat, (row.period_start, row.period_end, row.due_date)
    )
    paid_on = datetime.date.fromisoformat(row.paid_on) if row.paid_on else None
    for column, message in date_problems(start, end, None, max_days):
        refuse(column, message)
    if end > today:
        # A bill is for a period that has ended (as a reading's read_on is not in the future):
        # a bill dated ahead would show residents as 「最新のご請求」 a bill that does not exist.
        message = _(
            "未来の日付です(使用期間が終わった請求だけを取り込めます。%(today)s 以前の日付にしてください)。"
        )
        refuse("period_end", message % {"today": today.isoformat()})
    if due < end:
        refuse("due_date", _("納期限が使用期間(終了)より前です。"))
    if paid_on is not None and paid_on < start:
        refuse("paid_on", _("使用期間(開始)より前の日付です。"))
    if paid_on is not None and paid_on > today:
        message = _("未来の日付です(%(today)s 以前の日付にしてください)。")
        refuse("paid_on", message % {"today": today.isoformat()})
    status, label = row.status, Status(row.status).label
    if status in RECEIVED and paid_on is None:
        message = _("状態が「%(status)s」のときは口座振替日・納付日を入力してください。")
        refuse("paid_on", message % {"status": label})
    if status == Status.PAID and row.paid_amount != row.billed_amount:
        message = _(
            "請求額(%(billed)d円)と一致しません(多く納めたときの状態は「過誤納」、"
            "不足があるときは「未納」です)。"
        )
        refuse("paid_amount", message % {"billed": row.billed_amount})
    elif status == Status.OVERPAID and row.paid_amount <= row.billed_amount:
        message = _("状態が「過誤納」のときは請求額(%(billed)d円)より多い金額です。")
        refuse("paid_amount", message % {"billed": row.billed_amount})
    elif (
        status in (Status.UNPAID, Status.TRANSFER_FAILED)
        and row.paid_amount >= row.billed_amount
        and row.billed_amount
    ):
        message = _("状態が「%(status)s」のときは請求額(%(billed)d円)より少ない金額です。")
        refuse("paid_amount", message % {"status": label, "billed": row.billed_amount})
    if status == Status.TRANSFER_FAILED and row.method != Method.TRANSFER:
        refuse("status", _("「振替不能」は支払方法が「口座振替」の行だけです。"))
    return errors


def _choice(line: int, column: str, value: str, choices: dict[str, str], errors: list) -> str:
    found = choices.get(value.strip())
    if found is None:
        words = "、".join(dict.fromkeys(k for k in choices if not k.isascii()))
        message = _("「%(value)s」は指定できません(%(words)s のいずれかです)。")
        errors.append(RowError(line, column, message % {"value": value, "words": words}))
    return found or ""


def _check(cursor, result: ImportResult) -> None:
    if connection.vendor == "postgresql":  # SQLite found them as it staged the rows
        cursor.execute(
            f"UPDATE {S} SET customer_id = c.id FROM billing_customer c "
            f"WHERE c.utility_id = {S}.utility_id AND c.number = {S}.customer_number"
        )
    unknown = f"SELECT line, 'customer_number' FROM {S} WHERE customer_id IS NULL"
    stage.refuse(cursor, unknown, result, unknown_customer)
    message = _("%(line)d行目と customer_number・period_end が同じです。")
    stage.refuse_repeats(cursor, result, ("utility_id", "customer_number", "period_end"), message)
    # Two bills of one contract in the file whose periods overlap (one end: a repeat, above).
    in_file = (
        f"SELECT s.line, 'period_start', s.period_start, s.period_end, o.line, o.period_start, "
        f"o.period_end FROM {S} s JOIN {S} o ON o.customer_id = s.customer_id "
        "AND o.period_start <= s.period_end AND o.period_end >= s.period_start "
        "AND o.line < s.line AND o.period_end <> s.period_end"
    )
    stage.refuse(cursor, in_file, result, integrity.file_overlap_message)
    _refuse_corrected(cursor, result)
    other = f"AND s.line NOT IN (SELECT line FROM ({corrected_periods(S)}) c)"
    # A bill is for a period the CIS read: where a stored reading meets it, the same period.
    reading = (
        f"SELECT s.line, 'period_start', r.period_start, r.period_end FROM {S} s "
        f"JOIN {READINGS} r ON r.customer_id = s.customer_id "
        "AND r.period_end >= s.period_start AND r.period_start <= s.period_end "
        f"WHERE (r.period_start <> s.period_start OR r.period_end <> s.period_end) {other}"
    )
    message = _("保存済みの検針の使用期間(%(start)s〜%(end)s)と一致しません。")
    stage.refuse(cursor, reading, result, lambda a, b: message % {"start": a, "end": b})
    # Left behind: a correction replaced its period and no reading ends there since.
    left = (
        f"EXISTS (SELECT 1 FROM {CORRECTIONS} c WHERE c.customer_id = p.customer_id "
        f"AND c.old_end = p.period_end) AND NOT EXISTS (SELECT 1 FROM {READINGS} k "
        "WHERE k.customer_id = p.customer_id AND k.period_end = p.period_end)"
    )
    stored = (
        f"SELECT s.line, 'period_start', p.period_start, p.period_end, {left} FROM {S} s "
        f"JOIN {PAYMENTS} p ON p.customer_id = s.customer_id "
        "AND p.period_end >= s.period_start AND p.period_start <= s.period_end "
        f"AND p.period_end <> s.period_end {other} AND NOT EXISTS (SELECT 1 FROM {S} q "
        "WHERE q.customer_id = p.customer_id AND q.period_end = p.period_end)"
    )
    # A stored bill a row of the file re-dates (same end) is judged with its new dates, above.
    stage.refuse(cursor, stored, result, _stored_bill_message)
    if result.ok:
        _warn_amounts(cursor, result)


def _stored_bill_message(start, end, left_behind) -> str:
    message = _("保存済みの請求の使用期間(%(start)s〜%(end)s)と重なります。") % {
        "start": start,
        "end": end,
    }
    if left_behind:  # what is in the way, and the way out
        message += _(
            "この請求は検針の訂正で使用期間が変わる前のもので、移せずに残っています。"
            "請求・収納で確かめて削除してから取り込んでください。"
        )
    return message


def corrected_periods(rows: str) -> str:
    """(line, start, end) of each period holding now the period a row of ``rows`` (line,
    customer_id, period_end) names, where a readings correction replaced it (and no reading
    has been read at that end since): billing.PeriodCorrection, as the importer and the admin's
    bill form look it up."""
    return (
        f"SELECT s.line, r.period_start, r.period_end FROM {rows} s "
        f"JOIN {CORRECTIONS} c ON c.customer_id = s.customer_id AND c.old_end = s.period_end "
        f"JOIN {READINGS} r ON r.customer_id = s.customer_id AND r.period_end = c.new_end "
        f"WHERE NOT EXISTS (SELECT 1 FROM {READINGS} k "
        "WHERE k.customer_id = s.customer_id AND k.period_end = s.period_end)"
    )


def corrected_message(periods: list[tuple]) -> str:
    """What a bill naming a corrected period is told: the period that holds it now, or each of
    those it was split into."""
    if len(periods) == 1:
        message = _(
            "この使用期間は検針の訂正で %(start)s〜%(end)s に変わりました。"
            "訂正後の使用期間で取り込んでください。"
        )
        return message % {"start": periods[0][0], "end": periods[0][1]}
    message = _(
        "この使用期間は検針の訂正で %(periods)s に分かれました。"
        "それぞれの使用期間の請求として取り込んでください。"
    )
    return message % {"periods": "、".join(f"{start}〜{end}" for start, end in periods)}


def _refuse_corrected(cursor, result: ImportResult) -> None:
    """Refuse each row naming a corrected period, once, with the periods holding it now."""
    lines = f"SELECT DISTINCT line FROM ({corrected_periods(S)}) c"
    count, first = stage.first_rows(cursor, lines, (), result.max_errors)
    if not first:
        return
    cursor.execute(
        f"SELECT * FROM ({corrected_periods(S)}) c WHERE line <= %s ORDER BY 1, 3",
        [first[-1][0]],
    )
    periods: dict[int, list[tuple]] = {}
    for line, start, end in cursor.fetchall():
        periods.setdefault(line, []).append((str(start), str(end)))
    for line, held in periods.items():
        result.add_error(RowError(line, "period_end", corrected_message(held)))
    result.error_count += count - len(periods)


def correction_of(customer_id: int, end: datetime.date) -> str | None:
    """corrected_message for a bill of ``customer_id`` ending ``end`` (the admin's bill form),
    or None if no correction replaced that period."""
    row = "(SELECT 0 AS line, %s AS customer_id, %s AS period_end)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{corrected_periods(row)} ORDER BY 3",
            [customer_id, connection.ops.adapt_datefield_value(end)],
        )
        periods = [(str(start), str(end)) for _line, start, end in cursor.fetchall()]
    return corrected_message(periods) if periods else None


def _warn_amounts(cursor, result: ImportResult) -> None:
    """Name the bills whose 請求額 is not their reading's 請求金額: written, worth a look.

    The 適格請求書 prints both (billing/documents.py), so a corrected bill issues a new one.
    """
    cursor.execute(
        f"SELECT s.line, s.billed_amount, r.total FROM {S} s "
        f"JOIN {READINGS} r ON r.customer_id = s.customer_id AND r.period_end = s.period_end "
        f"WHERE r.total <> s.billed_amount ORDER BY s.line LIMIT {int(result.max_errors)}"
    )
    message = _(
        "line %(line)d: billed_amount: 請求額(%(billed)s円)が検針の請求金額(%(total)s円)と"
        "異なります(取り込みました。誤りなら正しい請求額で取り込み直してください)。"
    )
    if result.dry_run:  # nothing is written: say what importing the file would do
        message = _(
            "line %(line)d: billed_amount: 請求額(%(billed)s円)が検針の請求金額(%(total)s円)と"
            "異なります(取り込めます。誤りなら正しい請求額にしてから取り込んでください)。"
        )
    for line, billed, total in cursor.fetchall():
        values = {"line": line, "billed": f"{billed:,}", "total": f"{total:,}"}
        result.warnings.append(message % values)


def _write(cursor, result: ImportResult) -> None:
    """Update the stored bills that differ, insert the new ones; count each."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    compared = [name for name in VALUES if name != "period_end"]
    differs = " OR ".join(f"{PAYMENTS}.{n} IS DISTINCT FROM s.{n}" for n in compared)
    cursor.execute(
        f"UPDATE {PAYMENTS} SET {', '.join(f'{n} = s.{n}' for n in compared)}, imported_at = %s "
        f"FROM {S} s WHERE {PAYMENTS}.customer_id = s.customer_id "
        f"AND {PAYMENTS}.period_end = s.period_end AND ({differs})",
        [now],
    )
    result.updated = cursor.rowcount
    # The rows the file repeats unchanged were confirmed by this export too: residents read
    # 「この表示は…までに確認できたお支払い」 from imported_at, the day of the latest data.
    cursor.execute(
        f"UPDATE {PAYMENTS} SET imported_at = %s FROM {S} s "
        f"WHERE {PAYMENTS}.customer_id = s.customer_id AND {PAYMENTS}.period_end = s.period_end "
        f"AND {PAYMENTS}.imported_at <> %s",
        [now, now],
    )
    cursor.execute(
        f"INSERT INTO {PAYMENTS} (customer_id, {', '.join(VALUES)}, imported_at) "
        f"SELECT s.customer_id, {', '.join('s.' + n for n in VALUES)}, %s FROM {S} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {PAYMENTS} p "
        "WHERE p.customer_id = s.customer_id AND p.period_end = s.period_end)",
        [now],
    )
    result.inserted = cursor.rowcount
    result.unchanged = result.rows - result.inserted - result.updated


MOVES = "billing_import_bill_moves"
UNMOVED = "billing_import_bills_unmoved"  # the bills follow_readings names as staying


def follow_readings(cursor, result: ImportResult, replaced: str) -> None:
    """Move stored bills with the periods a readings import corrects (in its transaction, after
    replaced periods are deleted and stored ones updated, before new ones are inserted): the
    bill of a period whose start the file moves, and that of a period a correction replaces
    (``replaced``: the replaced periods beside the rows replacing them) onto the row's new
    period, unless a bill is there already or another bill goes there too, or this one to two
    periods, or the file splits its period (then it stays: a warning)."""
    remember_corrections(cursor, replaced)
    cursor.execute(f"DROP TABLE IF EXISTS {MOVES}")
    moved = "s.line, s.customer_id, s.customer_number, p.period_start, p.period_end"
    # A replaced bill goes to the rows taking its period over (readings._delete_replaced); with
    # none (--replace-overlapping, stored periods updated) it stays, and is named.
    over = f"SELECT 1 FROM {replaced} t WHERE t.customer_id = s.customer_id AND t.takes_over"
    cursor.execute(
        f"CREATE TEMPORARY TABLE {MOVES} AS SELECT p.id, {moved}, s.period_start AS new_start, "
        f"s.period_end AS new_end, TRUE AS takes_over FROM {S} s JOIN {READINGS} r "
        f"ON r.customer_id = s.customer_id AND r.period_end = s.period_end JOIN {PAYMENTS} p "
        "ON p.customer_id = s.customer_id AND p.period_end = s.period_end "
        "AND p.period_start <> s.period_start UNION ALL "
        f"SELECT p.id, {moved}, s.new_start, s.new_end, s.takes_over FROM {replaced} s "
        f"JOIN {PAYMENTS} p ON p.customer_id = s.customer_id AND p.period_end = s.period_end "
        f"WHERE s.takes_over OR NOT EXISTS ({over} AND t.period_end = s.period_end)"
    )
    blocked = _staying()
    _warn_unmoved(cursor, result, blocked)
    cursor.execute(f"DELETE FROM {MOVES} WHERE id IN (SELECT id FROM {UNMOVED})")
    listed = (
        f"SELECT line, customer_number, period_start, period_end, new_start, new_end FROM {MOVES}"
    )
    result.bills_moved, result.moved_bills = stage.first_rows(
        cursor, listed, (), result.max_errors, order="1, 4"
    )
    cursor.execute(
        f"UPDATE {PAYMENTS} SET period_start = m.new_start, period_end = m.new_end FROM {MOVES} m "
        f"WHERE {PAYMENTS}.id = m.id"
    )
    cursor.execute(f"DROP TABLE {MOVES}")


def _staying() -> str:
    """FROM … WHERE of the moves (MOVES m) that do not happen: the bill stays, and is named."""
    # A period two rows of the file lie within is split: its bill stays (even on a kept end).
    split = (
        f"(SELECT COUNT(*) FROM {S} f WHERE f.customer_id = m.customer_id "
        "AND f.period_start >= m.period_start AND f.period_end <= m.period_end) > 1"
    )
    # Nor onto days a bill that is not moving covers (one that came before its reading).
    covered = (
        f"EXISTS (SELECT 1 FROM {PAYMENTS} p WHERE p.customer_id = m.customer_id "
        "AND p.period_start <= m.new_end AND p.period_end >= m.new_start AND p.id <> m.id "
        f"AND p.id NOT IN (SELECT id FROM {MOVES}))"
    )
    return (
        f"FROM {MOVES} m WHERE {split} OR {covered} OR (m.period_end <> m.new_end AND "
        f"(NOT m.takes_over OR EXISTS (SELECT 1 FROM {PAYMENTS} p "
        "WHERE p.customer_id = m.customer_id AND p.period_end = m.new_end) OR EXISTS (SELECT 1 "
        f"FROM {MOVES} o WHERE o.customer_id = m.customer_id AND o.id <> m.id "
        f"AND o.new_end = m.new_end) OR EXISTS (SELECT 1 FROM {MOVES} o WHERE o.id = m.id "
        "AND o.new_end <> m.new_end)))"
    )


def remember_corrections(cursor, replaced: str) -> None:
    """Note the periods the rows of ``replaced`` take over (old end → new end), and move the
    notes that led to a period now replaced on to its new one: a bill naming any period of a
    chain of corrections (A by B, then B by C) is told today's (C)."""
    new = (  # each period taken over, and each earlier one that led to it
        f"SELECT t.customer_id, t.period_end AS old_end, t.new_end FROM {replaced} t "
        f"WHERE t.takes_over UNION SELECT c.customer_id, c.old_end, t.new_end FROM {replaced} t "
        f"JOIN {CORRECTIONS} c ON c.customer_id = t.customer_id AND c.new_end = t.period_end "
        "WHERE t.takes_over"
    )
    cursor.execute(
        f"INSERT INTO {CORRECTIONS} (customer_id, old_end, new_end) SELECT * FROM ({new}) n "
        f"WHERE n.old_end <> n.new_end AND NOT EXISTS (SELECT 1 FROM {CORRECTIONS} k WHERE "
        "k.customer_id = n.customer_id AND k.old_end = n.old_end AND k.new_end = n.new_end)"
    )
    cursor.execute(  # what led to a replaced period now leads on (above)
        f"DELETE FROM {CORRECTIONS} WHERE EXISTS (SELECT 1 FROM {replaced} t WHERE t.takes_over "
        f"AND t.customer_id = {CORRECTIONS}.customer_id AND t.period_end = {CORRECTIONS}.new_end)"
    )


def _warn_unmoved(cursor, result: ImportResult, blocked: str) -> None:
    """Name the bills that stay (``blocked``), noted in UNMOVED: warn_overlapped_bills names
    them not again."""
    cursor.execute(f"DROP TABLE IF EXISTS {UNMOVED}")
    cursor.execute(f"CREATE TEMPORARY TABLE {UNMOVED} AS SELECT m.id {blocked}")
    cursor.execute(
        f"SELECT line, period_start, period_end, new_start, new_end {blocked} "
        f"ORDER BY 1, 3 LIMIT {int(result.max_errors)}"
    )
    message = _(
        "line %(line)d: period_end: 保存済みの請求(%(start)s〜%(end)s)は訂正後の使用期間 "
        "%(new_start)s〜%(new_end)s へ移しませんでした(移す先が1つに決まらないか、"
        "その期間の請求がすでにあるためです)。請求・収納で確かめてください。"
    )
    for line, *dates in cursor.fetchall():
        names = dict(zip(("start", "end", "new_start", "new_end"), dates, strict=True))
        result.warnings.append(message % {"line": line, **names})


def warn_overlapped_bills(cursor, result: ImportResult) -> None:
    """Name the stored bills that the file's rows, as written, overlap with another period (but
    those follow_readings named): the readings are the CIS's, the bills' periods worth a look."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {UNMOVED} AS SELECT id FROM {PAYMENTS} WHERE 1 = 0"
    )
    cursor.execute(
        f"SELECT s.line, p.period_start, p.period_end FROM {S} s JOIN {PAYMENTS} p "
        "ON p.customer_id = s.customer_id AND p.period_end >= s.period_start "
        "AND p.period_start <= s.period_end WHERE (p.period_start <> s.period_start "
        f"OR p.period_end <> s.period_end) AND p.id NOT IN (SELECT id FROM {UNMOVED}) "
        f"ORDER BY 1, 3 LIMIT {int(result.max_errors)}"
    )
    message = _(
        "line %(line)d: period_start: 保存済みの請求(%(start)s〜%(end)s)と使用期間が重なります"
        "(取り込みました。請求・収納で請求の期間を確かめてください)。"
    )
    if result.dry_run:  # nothing is written: say what importing the file would do
        message = _(
            "line %(line)d: period_start: 保存済みの請求(%(start)s〜%(end)s)と使用期間が重なります"
            "(取り込めます。取り込んだら請求・収納で請求の期間を確かめてください)。"
        )
    for line, start, end in cursor.fetchall():
        result.warnings.append(message % {"line": line, "start": start, "end": end})
    cursor.execute(f"DROP TABLE {UNMOVED}")


ADMIN_REPLACED = "billing_admin_replaced"


def follow_reading(reading, old_start: datetime.date, old_end: datetime.date) -> ImportResult:
    """Move the bill of one reading whose period the admin changed (saved, in its transaction)
    as an import correcting it would: ``follow_readings`` on a one-row file, the row naming the
    old period in ``replaces_period_end`` if its end moved. The result names what moved or
    stayed (its warnings)."""
    result, adapt = ImportResult(), connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        stage.drop(cursor)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {S} AS SELECT 1 AS line, r.customer_id, c.number AS "
            f"customer_number, r.period_start, r.period_end FROM {READINGS} r "
            "JOIN billing_customer c ON c.id = r.customer_id WHERE r.id = %s",
            [reading.pk],
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE {ADMIN_REPLACED} AS SELECT line, customer_id, "
            "customer_number, period_start AS new_start, period_end AS new_end, "
            f"%s AS period_start, %s AS period_end, TRUE AS takes_over FROM {S} "
            "WHERE period_end <> %s",
            [adapt(old_start), adapt(old_end), adapt(old_end)],
        )
        follow_readings(cursor, result, ADMIN_REPLACED)
        cursor.execute(f"DROP TABLE {ADMIN_REPLACED}")
        cursor.execute(f"DROP TABLE {UNMOVED}")
        stage.drop(cursor)
    return result
