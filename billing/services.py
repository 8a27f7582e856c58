"""Import the CIS export: customers and meter readings, all or nothing per file, as upserts.

Every import runs in one transaction; any problem rolls it back (a dry run always does), and
memory holds a batch or two and at most ``max_errors`` errors, however long the file is.

- Customers: rows checked by ``billing.importers`` go to a temporary staging table (COPY or
  executemany, in a second thread while the next batch is checked), then one
  ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <the row differs>``.
- Readings on PostgreSQL: well-formed chunks are COPYed as they are; SQL checks the sums,
  dates and customers and finds repeated keys; one UPDATE of rows that differ, one INSERT of
  new rows (imports of readings take turns).
- Readings on SQLite: a forked reader checks the file (``billing.checking``) while this
  process upserts what it has checked with executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from . import checking, importers, integrity, pipeline
from .importers import RowError, UtilityRules
from .models import Customer, MeterReading
from .repeats import KeysAscend

BATCH_SIZE = importers.BATCH_SIZE
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

    def keep_first(self, limit: int) -> None:
        """Keep the first ``limit`` errors and flagged lines by line (the counts stay)."""
        self.errors.sort()
        del self.errors[limit:]
        del self.flagged_lines[limit:]

    def add_error(self, error: RowError, limit: int) -> None:
        self.error_count += 1
        if len(self.errors) < limit:
            self.errors.append(error)


@dataclass(frozen=True)
class Progress:
    """Where an import reports how far it has read, and when the reading is over."""

    rows: Callable[[int], None] | None = None
    writing: Callable[[], None] | None = None

    def read(self, count: int) -> None:
        if self.rows is not None:
            self.rows(count)

    def done_reading(self) -> None:
        if self.writing is not None:
            self.writing()


@dataclass(frozen=True)
class _Kind:
    """What differs between the two imports: staging columns, target table and key."""

    stage_columns: tuple[tuple[str, str], ...]  # (name, SQL type), as the row tuples
    key: tuple[str, ...]  # the staging columns that identify a row in the file
    table: Callable[[], str]
    merge_sql: Callable[[], str] | None = None  # None: the kind is only checked here
    missing_sql: Callable[[], str] | None = None  # staged rows whose customer is unknown


def import_customers(
    stream: Iterable[bytes],
    *,
    encoding: str | None = None,
    dry_run: bool = False,
    utility: Utility | None = None,
    progress: Callable[[int], None] | None = None,
    writing: Callable[[], None] | None = None,
    max_errors: int = MAX_ERRORS,
) -> ImportResult:
    """Upsert customers from a CSV by (utility, customer_number); write nothing if any row is bad.

    ``utility`` limits the import to that utility's rows (a staff member's upload).
    ``progress(rows)`` is called as rows are read; ``writing()`` once the whole file is read
    and only the database's checks and the write remain.
    """
    rows = importers.parse_customers(stream, _utility_rules(utility), encoding)
    return _import(CUSTOMERS, rows, dry_run, Progress(progress, writing), max_errors)


def import_readings(
    stream: Iterable[bytes],
    *,
    encoding: str | None = None,
    dry_run: bool = False,
    utility: Utility | None = None,
    progress: Callable[[int], None] | None = None,
    writing: Callable[[], None] | None = None,
    max_errors: int = MAX_ERRORS,
) -> ImportResult:
    """Upsert meter readings from a CSV by (customer, period_end); write nothing if any row is bad.

    ``utility``, ``progress`` and ``writing`` are as for ``import_customers``.
    """
    rules, today = _utility_rules(utility), timezone.localdate()
    report = Progress(progress, writing)
    if connection.vendor == "postgresql":
        return _import_readings_postgresql(
            stream, rules, today, encoding, dry_run, report, max_errors
        )
    return _import_readings_sqlite(stream, rules, today, encoding, dry_run, report, max_errors)


def _utility_rules(only: Utility | None) -> dict[str, UtilityRules]:
    return {
        slug: UtilityRules(pk, digits, allowed=only is None or pk == only.pk)
        for pk, slug, digits in Utility.objects.values_list("pk", "slug", "customer_number_digits")
    }


def _import(
    kind: _Kind,
    rows: Iterator,
    dry_run: bool,
    progress: Progress,
    max_errors: int,
) -> ImportResult:
    result = ImportResult(dry_run=dry_run)
    with transaction.atomic():
        with connection.cursor() as cursor:
            _create_stage(cursor, kind)
            _stage_all(cursor, kind, _valid_batches(kind, rows, result, max_errors), progress)
            progress.done_reading()
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {STAGE_TABLE}")
            _check_staged(cursor, kind, result, max_errors)
            if result.ok:
                _merge(cursor, kind, result)
            cursor.execute(f"DROP TABLE {STAGE_TABLE}")
        if dry_run or not result.ok:
            transaction.set_rollback(True)
    result.keep_first(max_errors)
    return result


# Imports of readings take turns (one transaction-scoped lock), so the merge below can
# insert new rows with a plain INSERT: PostgreSQL's ON CONFLICT costs a third more per row.
READINGS_LOCK = 0x62696C6C  # "bill"
_PG_STAGE_COLUMNS = (
    ("utility", "text"),
    ("customer_number", "text"),
    *((name, "date") for name in ("period_start", "period_end", "read_on")),
    *((name, "integer") for name in importers.READING_COLUMNS[5:]),
)
# What check_reading refuses, as SQL on the staged row (the rest the chunk pattern ensured).
_GRACE_DAYS = importers.READ_ON_GRACE.days
_PG_BAD_ROW = (
    f"period_end < period_start OR read_on < period_start OR read_on > period_end + {_GRACE_DAYS} "
    "OR read_on > %(today)s OR total <> water_charge + sewer_charge OR tax > total "
    "OR (current_index >= previous_index AND usage_m3 <> current_index - previous_index)"
)


def _import_readings_postgresql(
    stream: Iterable[bytes],
    rules: dict[str, UtilityRules],
    today,
    encoding: str | None,
    dry_run: bool,
    progress: Progress,
    max_errors: int,
) -> ImportResult:
    """COPY the file into a staging table (well-formed chunks as they are), check, merge."""
    result = ImportResult(dry_run=dry_run)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [READINGS_LOCK])
        # Room to find repeated keys in memory instead of in temporary files.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in _PG_STAGE_COLUMNS)
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE_TABLE} "
            f"(line bigint GENERATED BY DEFAULT AS IDENTITY, {columns})"
        )
        items = importers.parse_reading_chunks(stream, rules, today, encoding)
        repeats_possible = _stage_readings_postgresql(
            cursor, items, rules, result, progress, max_errors
        )
        progress.done_reading()
        cursor.execute(f"ANALYZE {STAGE_TABLE}")
        _check_staged_readings(cursor, rules, today, result, max_errors)
        _check_staged(cursor, READINGS_STAGED, result, max_errors, repeats_possible)
        if result.ok:
            _merge_readings_postgresql(cursor, result, max_errors)
        if result.ok and not dry_run:
            integrity.refresh_flags_sql(cursor, f"SELECT c.id {_STAGED_CUSTOMERS}")
        cursor.execute(f"DROP TABLE {STAGE_TABLE}")
        if dry_run or not result.ok:
            transaction.set_rollback(True)
    result.keep_first(max_errors)
    return result


def _stage_readings_postgresql(
    cursor,
    items: Iterator,
    rules: dict[str, UtilityRules],
    result: ImportResult,
    progress: Progress,
    max_errors: int,
) -> bool:
    """Stage the file; return whether a key may repeat (False: the keys were seen to ascend)."""
    # While the database parses a chunk, this process sees whether its keys ascend (``order``).
    # The well-formed chunks come first and number the lines from 2 on, so one COPY takes them
    # as they are and the identity column numbers them. Whatever follows the first odd block
    # is checked in Python and written row by row, with its line.
    names = ", ".join(name for name, _type in _PG_STAGE_COLUMNS)
    raw = cursor.cursor
    slugs = {r.id: slug for slug, r in rules.items()}
    order = KeysAscend({slug: r.customer_number_digits for slug, r in rules.items()})
    first = next(items, None)
    if isinstance(first, importers.Chunk):
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'line'), %s, false)",
            [STAGE_TABLE, first.first_line],
        )
        # A chunk has no quotes, backslashes or empty fields, so COPY's text format (simpler
        # to parse than csv) reads it as it is, with commas for tabs.
        copy_sql = f"COPY {STAGE_TABLE} ({names}) FROM STDIN (FORMAT text, DELIMITER ',')"
        with raw.copy(copy_sql) as copy:
            item = first
            while isinstance(item, importers.Chunk):
                copy.write(item.data)
                order.add(item.data, item.rows)
                result.rows += item.rows
                progress.read(item.rows)
                item = next(items, None)
        first = item
    if first is None:
        return not order.hold
    # Rows read one by one: the SQL check looks for repeated keys.
    with raw.copy(f"COPY {STAGE_TABLE} (line, {names}) FROM STDIN") as copy:
        written = 0
        for row in chain([first], items):
            if row.__class__ is RowError:
                result.add_error(row, max_errors)
                continue
            result.rows += 1
            copy.write_row((row.line, slugs[row.utility_id], *row[2:13]))
            written += 1
            if written % BATCH_SIZE == 0:
                progress.read(BATCH_SIZE)
        progress.read(written % BATCH_SIZE)
    return True


def _check_staged_readings(
    cursor, rules: dict[str, UtilityRules], today, result: ImportResult, max_errors: int
) -> None:
    """Count flagged rows and ask check_reading what is wrong with rows the SQL check refuses."""
    params = {"today": today}
    cursor.execute(f"SELECT COUNT(*) FROM {STAGE_TABLE} WHERE {_PG_BAD_ROW}", params)
    (bad,) = cursor.fetchone()
    names = ", ".join(name for name, _type in _PG_STAGE_COLUMNS)
    if bad:
        result.rows -= bad
        cursor.execute(
            f"SELECT line, {names} FROM {STAGE_TABLE} WHERE {_PG_BAD_ROW} "
            f"ORDER BY line LIMIT {int(max_errors)}",
            params,
        )
        found = cursor.fetchall()
        for line, *fields in found:
            text = [str(value) for value in fields]  # dates print as YYYY-MM-DD
            errors = [
                e
                for e in importers.check_reading(line, text, rules, today)
                if isinstance(e, RowError)
            ]
            if not errors:  # the SQL and Python checks must agree; never import on a doubt
                raise RuntimeError(f"line {line} fails the SQL check but not check_reading")
            for error in errors:
                result.add_error(error, max_errors)
        # Rows past the first max_errors count once each; their messages are not shown.
        result.error_count += bad - len(found)
        # A row that fails its own checks is reported for those alone; the checks across
        # rows (known customer, repeated key) are for the rows that pass (as on SQLite).
        cursor.execute(f"DELETE FROM {STAGE_TABLE} WHERE {_PG_BAD_ROW}", params)
    flagged = f"FROM {STAGE_TABLE} WHERE current_index < previous_index"
    cursor.execute(f"SELECT line {flagged} ORDER BY line LIMIT {int(max_errors)}")
    result.flagged_lines = [line for (line,) in cursor.fetchall()]
    result.flagged = len(result.flagged_lines)
    if result.flagged == max_errors:
        cursor.execute(f"SELECT COUNT(*) {flagged}")
        (result.flagged,) = cursor.fetchone()


def _merge_readings_postgresql(cursor, result: ImportResult, max_errors: int) -> None:
    """Update the rows that differ, then insert the new ones (imports take turns, see above).

    Only imports take turns: a reading typed in the admin may commit a key this import is
    inserting. Then the merge is undone to its savepoint and done again once every other
    writer has finished and new ones wait for this import to commit (residents' pages, which
    only read, are not held up); the second merge finds that row and updates it. A period
    that overlaps another of its contract is refused by the database; the lines that do are
    then reported and nothing is written.
    """
    try:
        with transaction.atomic():
            _update_then_insert_readings(cursor, result)
    except IntegrityError:
        cursor.execute(f"LOCK TABLE {_q(MeterReading._meta.db_table)} IN SHARE ROW EXCLUSIVE MODE")
        try:
            with transaction.atomic():
                _update_then_insert_readings(cursor, result)
        except IntegrityError as exc:
            if integrity.OVERLAP_CONSTRAINT not in str(exc):
                raise
            result.inserted = result.updated = result.unchanged = 0
            _report_overlaps(cursor, result, max_errors)


# The staged rows with their contract's id.
_STAGED_CUSTOMERS = (
    f"FROM {STAGE_TABLE} s JOIN portal_utility u ON u.slug = s.utility "
    f"JOIN billing_customer c ON c.utility_id = u.id AND c.number = s.customer_number"
)


def _report_overlaps(cursor, result: ImportResult, max_errors: int) -> None:
    """Refuse each staged line whose period overlaps another of its contract's periods."""
    cursor.execute(
        f"SELECT s.line, s.period_start, s.period_end, r.period_start, r.period_end "
        f"{_STAGED_CUSTOMERS} JOIN billing_meterreading r ON r.customer_id = c.id "
        f"AND r.period_end <> s.period_end AND r.period_start <= s.period_end "
        f"AND r.period_end >= s.period_start WHERE NOT EXISTS (SELECT 1 FROM {STAGE_TABLE} o "
        f"WHERE o.utility = s.utility AND o.customer_number = s.customer_number "
        f"AND o.period_end = r.period_end) ORDER BY s.line LIMIT {int(max_errors)}"
    )
    for line, start, end, stored_start, stored_end in cursor.fetchall():
        message = integrity.overlap_message(start, end, stored_start, stored_end)
        result.add_error(RowError(line, "period_start", message), max_errors)
    cursor.execute(
        f"SELECT s.line, s.period_start, s.period_end, o.line, o.period_start, o.period_end "
        f"FROM {STAGE_TABLE} s JOIN {STAGE_TABLE} o ON o.utility = s.utility "
        f"AND o.customer_number = s.customer_number AND o.line < s.line "
        f"AND o.period_start <= s.period_end AND o.period_end >= s.period_start "
        f"ORDER BY s.line, o.line LIMIT {int(max_errors)}"
    )
    for line, start, end, other, other_start, other_end in cursor.fetchall():
        message = integrity.file_overlap_message(start, end, other, other_start, other_end)
        result.add_error(RowError(line, "period_start", message), max_errors)


def _update_then_insert_readings(cursor, result: ImportResult) -> None:
    table = _q(MeterReading._meta.db_table)
    joined = _STAGED_CUSTOMERS
    compared = [f for f in _READING_FIELDS if f != "period_end"]
    cursor.execute(
        f"UPDATE {table} r SET {', '.join(f'{_q(f)} = s.{f}' for f in compared)} {joined} "
        f"WHERE r.customer_id = c.id AND r.period_end = s.period_end "
        f"AND ({' OR '.join(f'r.{_q(f)} <> s.{f}' for f in compared)})"
    )
    result.updated = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {table} (customer_id, {', '.join(_q(f) for f in _READING_FIELDS)}) "
        f"SELECT c.id, {', '.join('s.' + f for f in _READING_FIELDS)} {joined} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} r "
        f"WHERE r.customer_id = c.id AND r.period_end = s.period_end)"
    )
    result.inserted = cursor.rowcount
    result.unchanged = result.rows - result.inserted - result.updated


def _import_readings_sqlite(
    stream: Iterable[bytes],
    rules: dict[str, UtilityRules],
    today,
    encoding: str | None,
    dry_run: bool,
    progress: Progress,
    max_errors: int,
) -> ImportResult:
    """Upsert checked rows straight into the readings table while a child process checks more.

    The child reads and checks the file (``checking.checked_batches``); this process finds the
    customers' ids, one query a batch, and writes, in one transaction. It stops writing at
    the first error while the child goes on to find the rest.
    """
    result = ImportResult(dry_run=dry_run)
    table = _q(MeterReading._meta.db_table)
    compared = [f for f in _READING_FIELDS if f != "period_end"]
    upsert = (
        f"INSERT INTO {table} (customer_id, {', '.join(_q(f) for f in _READING_FIELDS)}) "
        f"VALUES ({', '.join('?' * (1 + len(_READING_FIELDS)))}) "
        f"ON CONFLICT (customer_id, period_end) DO UPDATE SET "
        f"{', '.join(f'{_q(f)} = excluded.{_q(f)}' for f in compared)} "
        f"WHERE {' OR '.join(f'{table}.{_q(f)} <> excluded.{_q(f)}' for f in compared)}"
    )
    produce = partial(
        checking.checked_batches,
        stream=stream,
        rules=rules,
        today=today,
        encoding=encoding,
        max_errors=max_errors,
    )
    touched = "billing_import_customers"  # whose flags to set once the file is written
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        (highest,) = cursor.fetchone()
        cursor.execute(f"DROP TABLE IF EXISTS {touched}")
        cursor.execute(f"CREATE TEMPORARY TABLE {touched} (id integer PRIMARY KEY)")
        raw = connection.connection  # the sqlite3 connection: no SQL rewriting per batch
        changed = 0
        unknown = _unknown_customer()
        for batch in pipeline.items(produce):
            lines, runs, lengths, columns, errors, error_count, flagged_lines, flagged = batch
            result.rows += len(lines)
            result.errors += errors
            result.error_count += error_count
            result.flagged += flagged
            result.flagged_lines += flagged_lines
            ids = _customer_ids(cursor, rules, set(runs))
            run_ids = list(map(ids.get, runs))
            if None in run_ids:
                start = 0
                for customer, length in zip(run_ids, lengths, strict=True):
                    if customer is None:
                        for line in lines[start : start + length]:
                            result.errors.append(RowError(line, "customer_number", unknown))
                            result.error_count += 1
                    start += length
                if len(result.errors) > max_errors:
                    result.keep_first(max_errors)
            customers = list(chain.from_iterable(map(repeat, run_ids, lengths)))
            if result.ok:
                rows = zip(customers, *columns, strict=True)
                changed += raw.executemany(upsert, rows).rowcount
                ids_sql = f"INSERT OR IGNORE INTO {touched} VALUES (?)"
                raw.executemany(ids_sql, ((customer,) for customer in set(run_ids)))
            progress.read(len(lines) + error_count)
        progress.done_reading()
        if result.ok:
            # AUTOINCREMENT ids only grow and SQLite writes one transaction at a time, so the
            # rows above the old highest id are the ones this import inserted.
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE id > %s", [highest])
            (result.inserted,) = cursor.fetchone()
            result.updated = changed - result.inserted
            result.unchanged = result.rows - changed
            if not dry_run:
                integrity.refresh_flags_sql(cursor, f"SELECT id FROM {touched}")
        cursor.execute(f"DROP TABLE {touched}")
        if dry_run or not result.ok:
            transaction.set_rollback(True)
    result.keep_first(max_errors)
    return result


def _customer_ids(
    cursor, rules: dict[str, UtilityRules], keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """{(utility slug, customer number): id} of those keys that are contracts."""
    by_utility: dict[str, list[str]] = {}
    for slug, number in keys:
        by_utility.setdefault(slug, []).append(number)
    found: dict[tuple[str, str], int] = {}
    for slug, numbers in by_utility.items():
        for start in range(0, len(numbers), 900):
            part = numbers[start : start + 900]
            cursor.execute(
                f"SELECT number, id FROM {_q(Customer._meta.db_table)} WHERE utility_id = %s "
                f"AND number IN ({', '.join(['%s'] * len(part))})",
                [rules[slug].id, *part],
            )
            found.update(((slug, number), pk) for number, pk in cursor.fetchall())
    return found


def _valid_batches(
    kind: _Kind, rows: Iterator, result: ImportResult, max_errors: int
) -> Iterator[list]:
    """Yield lists of good rows, recording errors in ``result`` on the way."""
    batch: list = []
    for row in rows:
        if isinstance(row, RowError):
            result.add_error(row, max_errors)
            continue
        result.rows += 1
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


def _stage_all(cursor, kind: _Kind, batches: Iterator[list], progress: Progress) -> None:
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
            progress.read(len(batch))
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


def _check_staged(
    cursor, kind: _Kind, result: ImportResult, max_errors: int, repeats_possible: bool = True
) -> None:
    # Each query keeps its first ``max_errors`` lines; _import sorts them in with the row
    # errors and keeps the first ``max_errors`` of all.
    key = ", ".join(kind.key)
    duplicates = 0
    if repeats_possible:
        cursor.execute(
            f"SELECT COALESCE(SUM(n - 1), 0) FROM "
            f"(SELECT COUNT(*) AS n FROM {STAGE_TABLE} GROUP BY {key} HAVING COUNT(*) > 1) d"
        )
        duplicates = int(cursor.fetchone()[0])  # PostgreSQL's SUM is a numeric (a Decimal)
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
                "key": "・".join(c for c in kind.key if c not in ("utility_id", "utility")),
            }
            result.errors.append(RowError(line, kind.key[-1], message))
        result.error_count += duplicates
    if kind.missing_sql is not None:
        cursor.execute(f"SELECT COUNT(*) FROM ({kind.missing_sql()}) m")
        (missing,) = cursor.fetchone()
        if missing:
            cursor.execute(f"{kind.missing_sql()} ORDER BY s.line LIMIT {int(max_errors)}")
            message = _unknown_customer()
            for (line,) in cursor.fetchall():
                result.errors.append(RowError(line, "customer_number", message))
            result.error_count += missing


def _unknown_customer() -> str:
    return _("このお客様番号の契約がありません。先に契約を取り込んでください。")


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


_TEXT, _INT = "text", "integer"

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
# The readings staged on PostgreSQL name their utility by slug, as the file does.
READINGS_STAGED = _Kind(
    stage_columns=(),
    key=("utility", "customer_number", "period_end"),
    table=lambda: MeterReading._meta.db_table,
    missing_sql=lambda: (
        f"SELECT s.line FROM {STAGE_TABLE} s WHERE NOT EXISTS (SELECT 1 FROM "
        f"{_q(Customer._meta.db_table)} c JOIN {_q(Utility._meta.db_table)} u "
        f"ON u.id = c.utility_id WHERE u.slug = s.utility AND c.number = s.customer_number)"
    ),
)
