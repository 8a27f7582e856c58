"""Import the CIS export: customers and meter readings, all or nothing per file, as upserts.

One pass over the file: rows are checked by ``billing.importers`` and written in batches to a
temporary staging table inside one transaction (PostgreSQL: ``COPY``; SQLite: executemany),
by a second thread while the next batch is checked. The staged rows are then checked for
what needs the database (unknown customer numbers, the same key twice in the file) and
merged into the real table with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <the row
differs>``, so unchanged rows are not written and can be counted. Any problem rolls the whole
transaction back (a dry run always does). Python holds two batches of rows and at most
``max_errors`` errors, so memory stays flat however long the file is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from . import importers
from .importers import RowError, UtilityRules
from .models import Customer, MeterReading

BATCH_SIZE = 5000
MAX_ERRORS = 200
STAGE_TABLE = "billing_import_stage"


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    flagged: int = 0
    flagged_lines: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)  # the first ``max_errors``, by line
    error_count: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def more_errors(self) -> int:
        return self.error_count - len(self.errors)

    def summary(self) -> str:
        """Return the one summary line: rows, inserted, updated, unchanged, flagged."""
        text = _(
            "%(rows)d 行: 追加 %(inserted)d 件、更新 %(updated)d 件、変更なし %(unchanged)d 件、"
            "要確認 %(flagged)d 件"
        ) % {
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "flagged": self.flagged,
        }
        return _("[検査のみ・書き込みなし] ") + text if self.dry_run else text

    def add_error(self, error: RowError, limit: int) -> None:
        self.error_count += 1
        if len(self.errors) < limit:
            self.errors.append(error)


@dataclass(frozen=True)
class _Kind:
    """What differs between the two imports: staging columns, target table and key."""

    stage_columns: tuple[tuple[str, str], ...]  # (name, SQL type), as the row tuples
    key: tuple[str, ...]  # the staging columns that identify a row in the file
    merge_sql: Callable[[], str]
    table: Callable[[], str]
    missing_sql: Callable[[], str] | None = None  # staged rows whose customer is unknown


def import_customers(
    stream: Iterable[bytes],
    *,
    encoding: str | None = None,
    dry_run: bool = False,
    utility: Utility | None = None,
    progress: Callable[[int], None] | None = None,
    max_errors: int = MAX_ERRORS,
) -> ImportResult:
    """Upsert customers from a CSV by (utility, customer_number); write nothing if any row is bad.

    ``utility`` limits the import to that utility's rows (a staff member's upload).
    """
    rows = importers.parse_customers(stream, _utility_rules(utility), encoding)
    return _import(CUSTOMERS, rows, dry_run, progress, max_errors)


def import_readings(
    stream: Iterable[bytes],
    *,
    encoding: str | None = None,
    dry_run: bool = False,
    utility: Utility | None = None,
    progress: Callable[[int], None] | None = None,
    max_errors: int = MAX_ERRORS,
) -> ImportResult:
    """Upsert meter readings from a CSV by (customer, period_end); write nothing if any row is bad.

    ``utility`` limits the import to that utility's rows (a staff member's upload).
    """
    rows = importers.parse_readings(stream, _utility_rules(utility), timezone.localdate(), encoding)
    return _import(READINGS, rows, dry_run, progress, max_errors)


def _utility_rules(only: Utility | None) -> dict[str, UtilityRules]:
    return {
        slug: UtilityRules(pk, digits, allowed=only is None or pk == only.pk)
        for pk, slug, digits in Utility.objects.values_list("pk", "slug", "customer_number_digits")
    }


def _import(
    kind: _Kind,
    rows: Iterator,
    dry_run: bool,
    progress: Callable[[int], None] | None,
    max_errors: int,
) -> ImportResult:
    result = ImportResult(dry_run=dry_run)
    with transaction.atomic():
        with connection.cursor() as cursor:
            _create_stage(cursor, kind)
            _stage_all(cursor, kind, _valid_batches(kind, rows, result, max_errors), progress)
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {STAGE_TABLE}")
            _check_staged(cursor, kind, result, max_errors)
            if result.ok:
                _merge(cursor, kind, result)
            cursor.execute(f"DROP TABLE {STAGE_TABLE}")
        if dry_run or not result.ok:
            transaction.set_rollback(True)
    result.errors.sort()
    del result.errors[max_errors:]
    return result


def _valid_batches(
    kind: _Kind, rows: Iterator, result: ImportResult, max_errors: int
) -> Iterator[list]:
    """Yield lists of good rows, recording errors and flagged rows in ``result`` on the way."""
    flags = kind is READINGS
    batch: list = []
    for row in rows:
        if isinstance(row, RowError):
            result.add_error(row, max_errors)
            continue
        result.rows += 1
        if flags and row.flagged:
            result.flagged += 1
            if len(result.flagged_lines) < max_errors:
                result.flagged_lines.append(row.line)
        batch.append(row)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _create_stage(cursor, kind: _Kind) -> None:
    # A temporary table is private to this connection; it is dropped before the transaction
    # ends (or rolled back with it), so a second import in the same session starts clean.
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in kind.stage_columns)
    options = ""
    if connection.vendor == "sqlite":
        # Kept in key order: the check for repeated keys needs no sort, and the merge then
        # writes each customer's readings together (CIS exports come sorted that way).
        columns += f", PRIMARY KEY ({', '.join(kind.key)}, line)"
        options = " WITHOUT ROWID"
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
    cursor.execute(f"CREATE TEMPORARY TABLE {STAGE_TABLE} ({columns}){options}")


def _stage_all(
    cursor, kind: _Kind, batches: Iterator[list], progress: Callable[[int], None] | None
) -> None:
    # The database writes one batch in a second thread while this one reads and checks the
    # next: sqlite3 and psycopg release the GIL while the database works. At most two batches
    # are held, so memory stays flat.
    write = _batch_writer(cursor, kind)
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future | None = None
        for batch in batches:
            if pending is not None:
                pending.result()
            pending = writer.submit(write, batch)
            if progress:
                progress(len(batch))
        if pending is not None:
            pending.result()


def _batch_writer(cursor, kind: _Kind) -> Callable[[list], None]:
    # Built in the request's thread: Django's connection object belongs to that thread.
    names = ", ".join(name for name, _type in kind.stage_columns)
    if connection.vendor == "postgresql":
        copy_sql = f"COPY {STAGE_TABLE} ({names}) FROM STDIN"
        raw_cursor = cursor.cursor

        def write(batch: list) -> None:
            # psycopg 3: COPY is the bulk path; rows are already checked, so none can fail.
            with raw_cursor.copy(copy_sql) as copy:
                for row in batch:
                    copy.write_row(row)

        return write
    marks = ", ".join("?" * len(kind.stage_columns))
    insert_sql = f"INSERT INTO {STAGE_TABLE} ({names}) VALUES ({marks})"
    # The raw sqlite3 connection: Django's wrapper would rewrite the SQL for every batch.
    raw = connection.connection
    return lambda batch: raw.executemany(insert_sql, batch)


def _check_staged(cursor, kind: _Kind, result: ImportResult, max_errors: int) -> None:
    # Each query keeps its first ``max_errors`` lines; _import sorts them in with the row
    # errors and keeps the first ``max_errors`` of all.
    key = ", ".join(kind.key)
    cursor.execute(
        f"SELECT COALESCE(SUM(n - 1), 0) FROM "
        f"(SELECT COUNT(*) AS n FROM {STAGE_TABLE} GROUP BY {key} HAVING COUNT(*) > 1) d"
    )
    (duplicates,) = cursor.fetchone()
    if duplicates:
        on = " AND ".join(f"s.{c} = d.{c}" for c in kind.key)
        cursor.execute(
            f"SELECT s.line, d.first_line FROM {STAGE_TABLE} s JOIN "
            f"(SELECT {key}, MIN(line) AS first_line FROM {STAGE_TABLE} GROUP BY {key} "
            f"HAVING COUNT(*) > 1) d ON {on} "
            f"WHERE s.line <> d.first_line ORDER BY s.line LIMIT {int(max_errors)}"
        )
        found = cursor.fetchall()
        for line, first_line in found:
            message = _("%(line)d行目と %(key)s が同じです。") % {
                "line": first_line,
                "key": "・".join(c for c in kind.key if c != "utility_id"),
            }
            result.errors.append(RowError(line, kind.key[-1], message))
        result.error_count += duplicates
    if kind.missing_sql is not None:
        cursor.execute(f"SELECT COUNT(*) FROM ({kind.missing_sql()}) m")
        (missing,) = cursor.fetchone()
        if missing:
            cursor.execute(f"{kind.missing_sql()} ORDER BY s.line LIMIT {int(max_errors)}")
            for (line,) in cursor.fetchall():
                message = _("このお客様番号の契約がありません。先に契約を取り込んでください。")
                result.errors.append(RowError(line, "customer_number", message))
            result.error_count += missing


def _merge(cursor, kind: _Kind, result: ImportResult) -> None:
    """Upsert the staged rows and count what was inserted, updated and left unchanged."""
    params = []
    if kind is CUSTOMERS:
        params = [connection.ops.adapt_datetimefield_value(timezone.now())]
    table = _q(kind.table())
    if connection.vendor == "postgresql":
        # xmax is 0 on a freshly inserted row version and set on an updated one.
        cursor.execute(
            f"WITH merged AS ({kind.merge_sql()} RETURNING (xmax = 0) AS inserted) "
            f"SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM merged",
            params,
        )
        inserted, changed = cursor.fetchone()
    else:
        # SQLite writes one transaction at a time and AUTOINCREMENT ids only grow, so the
        # rows above the old highest id are the ones this merge inserted.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        (highest,) = cursor.fetchone()
        cursor.execute(kind.merge_sql(), params)
        changed = cursor.rowcount  # inserted plus updated; identical rows are not written
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE id > %s", [highest])
        (inserted,) = cursor.fetchone()
    result.inserted = inserted
    result.updated = changed - inserted
    result.unchanged = result.rows - changed


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _upsert_sql(
    table: str, columns: list[str], select: str, key: list[str], extra_set: str = ""
) -> str:
    # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    compared = [c for c in columns if c not in key and c != "updated_at"]
    sets = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in compared) + extra_set
    differs = " OR ".join(f"{_q(table)}.{_q(c)} <> excluded.{_q(c)}" for c in compared)
    return (
        f"INSERT INTO {_q(table)} ({', '.join(_q(c) for c in columns)}) {select} WHERE true "
        f"ON CONFLICT ({', '.join(_q(c) for c in key)}) DO UPDATE SET {sets} WHERE {differs}"
    )


_CUSTOMER_FIELDS = [
    "name",
    "name_kana",
    "address",
    "building",
    "phone",
    "meter_diameter_mm",
    "meter_number",
]


def _customer_merge_sql() -> str:
    table = Customer._meta.db_table
    columns = ["utility_id", "number", *_CUSTOMER_FIELDS, "updated_at"]
    select = (
        f"SELECT utility_id, customer_number, {', '.join(_CUSTOMER_FIELDS)}, %s FROM {STAGE_TABLE}"
    )
    return _upsert_sql(
        table, columns, select, ["utility_id", "number"], ", updated_at = excluded.updated_at"
    )


_READING_FIELDS = list(importers.READING_COLUMNS[2:])


def _reading_merge_sql() -> str:
    columns = ["customer_id", *_READING_FIELDS]
    select = (
        f"SELECT c.id, {', '.join('s.' + f for f in _READING_FIELDS)} FROM {STAGE_TABLE} s "
        f"JOIN {_q(Customer._meta.db_table)} c "
        f"ON c.utility_id = s.utility_id AND c.number = s.customer_number"
    )
    return _upsert_sql(MeterReading._meta.db_table, columns, select, ["customer_id", "period_end"])


def _reading_missing_sql() -> str:
    return (
        f"SELECT s.line FROM {STAGE_TABLE} s WHERE NOT EXISTS (SELECT 1 FROM "
        f"{_q(Customer._meta.db_table)} c "
        f"WHERE c.utility_id = s.utility_id AND c.number = s.customer_number)"
    )


_TEXT, _INT, _DATE = "text", "integer", "date"

CUSTOMERS = _Kind(
    stage_columns=(
        ("line", _INT),
        ("utility_id", _INT),
        ("customer_number", _TEXT),
        ("name", _TEXT),
        ("name_kana", _TEXT),
        ("address", _TEXT),
        ("building", _TEXT),
        ("phone", _TEXT),
        ("meter_diameter_mm", _INT),
        ("meter_number", _TEXT),
    ),
    key=("utility_id", "customer_number"),
    merge_sql=_customer_merge_sql,
    table=lambda: Customer._meta.db_table,
)
READINGS = _Kind(
    stage_columns=(
        ("line", _INT),
        ("utility_id", _INT),
        ("customer_number", _TEXT),
        *((name, _DATE) for name in ("period_start", "period_end", "read_on")),
        *((name, _INT) for name in importers.READING_COLUMNS[5:]),
        ("flagged", "boolean"),
    ),
    key=("utility_id", "customer_number", "period_end"),
    merge_sql=_reading_merge_sql,
    table=lambda: MeterReading._meta.db_table,
    missing_sql=_reading_missing_sql,
)
