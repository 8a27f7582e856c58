"""A temporary table of one file's checked rows, so SQL can check them as a whole. Its
columns are the row NamedTuple's fields by name: a column added to the CIS header is a field
added there, never a position to shift."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from itertools import count, repeat
from typing import NamedTuple

from django.db import connection, transaction

from .. import pagecache
from .csvfile import Block, RowError
from .result import ImportResult
from .rows import IsoDate, PlainRows

TABLE = "billing_import_stage"
BATCH_SIZE = 5000
ROWS_AT_ONCE = 32  # rows of a plain block in one INSERT on SQLite (fewer steps, 352 values)
_SQL_TYPES = {int: "integer", str: "text", IsoDate: "date"}


def columns(row_type: type[NamedTuple]) -> dict[str, str]:
    """{field: SQL type} of a row NamedTuple (``X | None`` is a nullable X)."""
    hints = typing.get_type_hints(row_type)
    bases = {name: (typing.get_args(hints[name]) or (hints[name],))[0] for name in row_type._fields}
    return {name: _SQL_TYPES[base] for name, base in bases.items()}


@contextmanager
def importing(lock: int, row_type, result: ImportResult) -> Iterator:
    """One import's transaction, turn (an advisory lock on PostgreSQL) and staging table; yields
    the cursor. Kept if the file had no error and was no dry run: residents' pages are dropped."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        create(cursor, row_type)
        yield cursor
        drop(cursor)
        if result.ok and not result.dry_run:
            pagecache.usage_data_changed()
        else:
            transaction.set_rollback(True)
    result.keep_first()


def create(cursor, row_type: type[NamedTuple]) -> None:
    """The staging table of ``row_type``'s fields and ``customer_id`` (the contract, found as
    rows are staged on SQLite). On SQLite ``line`` is the row id (file order needs no sort)."""
    types = columns(row_type) | {"customer_id": "integer"}
    if connection.vendor == "sqlite":
        types["line"] = "integer PRIMARY KEY"
    definitions = ", ".join(f"{name} {sql}" for name, sql in types.items())
    drop(cursor)
    cursor.execute(f"CREATE TEMPORARY TABLE {TABLE} ({definitions})")


def fill(cursor, row_type, items, parse, result: ImportResult, plain=None):
    """Stage the rows of ``items`` (csvfile.records) that ``parse`` finds right, the others'
    errors to ``result``; ``plain(block)`` gives a plain block's rows, or None."""
    write, write_plain, batch = writer(cursor, row_type), writer(cursor, row_type, plain=True), []
    for item in items:
        if (rows := plain(item) if plain and isinstance(item, Block) else None) is not None:
            write_plain(rows)
            result.read(len(rows.lines))
            continue
        for record in item.records() if isinstance(item, Block) else (item,):
            row = record if isinstance(record, RowError) else parse(record)
            if isinstance(row, row_type):
                batch.append(row)
            else:
                for error in [row] if isinstance(row, RowError) else row:
                    result.add_error(error)
                result.read(1, staged=False)
        if len(batch) >= BATCH_SIZE:
            write(batch)
            result.read(len(batch))
            batch = []
    write(batch)
    result.read(len(batch))
    if result.writing is not None:  # only the database's checks and the write remain
        result.writing()


def writer(cursor, row_type: type[NamedTuple], plain: bool = False) -> Callable[[list], None]:
    """A function staging a batch of ``row_type`` rows, or if ``plain`` a block's PlainRows."""
    if connection.vendor == "postgresql":
        names = row_type._fields[:-1] if plain else row_type._fields
        copy_sql = f"COPY {TABLE} ({', '.join(names)}) FROM STDIN{' (FORMAT csv)' * plain}"

        def write(batch) -> None:
            with cursor.cursor.copy(copy_sql) as copy:
                if plain:  # Reading's values but replaces_period_end
                    rules, first = batch.rules, count(batch.first)
                    values = f"{{}},{rules.id},{{}},{rules.max_days}".format
                    copy.write("\n".join(map(values, first, batch.lines)))
                else:
                    for row in batch:
                        copy.write_row(row)

        return write
    # SQLite stores each text that reads as a whole number in an integer column as a number.
    # Django's wrapper would rewrite the SQL for every batch.
    if plain:
        return partial(_sqlite_plain, connection.connection, row_type._fields[:-1])
    return partial(connection.connection.executemany, _sqlite_insert(row_type._fields))


def _sqlite_plain(raw, names: tuple[str, ...], rows: PlainRows) -> None:
    """Stage a plain block's lines split at commas, the utility's id and longest period written
    in the SQL. The first line is given its number, SQLite numbers the rest (the next row id),
    ``ROWS_AT_ONCE`` rows to an INSERT (their lines joined, then split: no step per row)."""
    fields, rules = names[2:-1], rows.rules
    width, lines = len(fields), rows.lines[1:]

    def values(at: int) -> str:  # one row's, bound from ?at + 1 (the customer number)
        contract = f"SELECT id FROM billing_customer WHERE utility_id = {rules.id} AND number"
        marks = ", ".join(f"?{at + i}" for i in range(1, width + 1))
        return f"{rules.id}, {marks}, {rules.max_days}, ({contract} = ?{at + 1})"

    insert = f"INSERT INTO {TABLE} (utility_id, {', '.join(fields)}, max_days, customer_id)"
    first = insert.replace("(", "(line, ", 1) + f" VALUES (?{width + 1}, {values(0)})"
    raw.execute(first, (*rows.lines[0].split(","), rows.first))
    n, whole = ROWS_AT_ONCE, len(lines) - len(lines) % ROWS_AT_ONCE
    many = f"{insert} VALUES " + ", ".join(f"({values(width * k)})" for k in range(n))
    raw.executemany(many, (",".join(lines[i : i + n]).split(",") for i in range(0, whole, n)))
    raw.executemany(f"{insert} VALUES ({values(0)})", map(str.split, lines[whole:], repeat(",")))


def _sqlite_insert(names: tuple[str, ...]) -> str:
    """INSERT of one row's ``names``, and its contract (by the 2nd and 3rd)."""
    values = [f"?{i}" for i in range(1, len(names) + 1)]
    values.append("(SELECT id FROM billing_customer WHERE utility_id = ?2 AND number = ?3)")
    return f"INSERT INTO {TABLE} ({', '.join(names)}, customer_id) VALUES ({', '.join(values)})"


def drop(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def first_rows(cursor, sql: str, params, limit: int, order: str = "1") -> tuple[int, list]:
    """How many rows ``sql`` selects, and the first ``limit`` of them by ``order``."""
    cursor.execute(f"{sql} ORDER BY {order} LIMIT {limit}", params)
    found = cursor.fetchall()
    if len(found) < limit:
        return len(found), found
    cursor.execute(f"SELECT COUNT(*) FROM ({sql}) x", params)
    return cursor.fetchone()[0], found


def refuse(cursor, sql: str, result: ImportResult, message: Callable[..., str], params=()):
    """Add an error for each (line, column, *details) row ``sql`` selects; return the count."""
    count, found = first_rows(cursor, sql, params, result.max_errors)
    for line, column, *details in found:
        result.add_error(RowError(line, column, message(*details)))
    result.error_count += count - len(found)
    return count


def refuse_repeats(cursor, result: ImportResult, key: tuple[str, ...], message: str) -> int:
    """Refuse each row whose ``key`` an earlier line has (``message`` names that line), in its
    last column: one GROUP BY, whatever order the file is in. Return the count."""
    names = ", ".join(key)
    groups = f"SELECT {names}, MIN(line) AS first FROM {TABLE} GROUP BY {names} HAVING COUNT(*) > 1"
    on = " AND ".join(f"s.{name} = d.{name}" for name in key)
    sql = f"SELECT s.line, '{key[-1]}', d.first FROM {TABLE} s JOIN ({groups}) d ON {on} "
    return refuse(cursor, sql + "WHERE s.line <> d.first", result, lambda n: message % {"line": n})
