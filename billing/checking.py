"""What the reader process of an import of readings does: read the file, check every row.

Pure Python on the file's bytes, no database: ``billing.services`` runs ``checked_batches``
in a forked child (``billing.pipeline``) and writes the batches it yields, finding the
customers' ids as it goes. Well-formed chunks of one utility's rows are checked a whole
column at a time with ``map`` (the loop runs in C); a chunk with a wrong row or with several
utilities, and every row after the first odd block, is checked row by row, and
``importers.check_reading`` says what is wrong.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Iterable, Iterator
from itertools import compress
from operator import add, gt, itemgetter, ne, or_, sub

from django.utils.translation import gettext as _

from . import importers
from .importers import RowError, UtilityRules
from .repeats import RepeatTracker

# Period ends whose last reading day is kept between chunks (a file has a few dozen).
_LIMITS_CACHED = 10_000


def checked_batches(
    *,
    stream: Iterable[bytes],
    rules: dict[str, UtilityRules],
    today,
    encoding: str | None,
    max_errors: int,
) -> Iterator[tuple]:
    """Read and check the file; yield batches of checked rows, with errors and flagged rows.

    Runs in the child process. Each batch is (lines, the (utility, customer number) of each
    run of one customer's rows, the runs' lengths, the reading's fields as 10 columns,
    errors, error count, flagged lines, flagged count).
    Well-formed chunks are checked a column at a time; a chunk with a wrong row, and the rows
    after the first odd block, are checked row by row and explained by ``check_reading``.
    """
    checker = _BatchChecker(rules, today, max_errors)
    slugs = {r.id: slug for slug, r in rules.items()}
    items = importers.parse_reading_chunks(stream, rules, today, encoding)
    try:
        for item in _slow_rows_in_batches(items):
            if item.__class__ is importers.Chunk:
                text = item.data.decode("ascii")
                if "\r" in text:
                    text = text.replace("\r\n", "\n")
                checked = checker.chunk(item.first_line, item.rows, text)
                if checked is not None:
                    yield checked
                    continue
                # Some row is wrong: the row-by-row check says which and why.
                records = [line.split(",") for line in text.split("\n")]
                records.pop()  # the chunk ends with a newline
                lines: Iterable[int] = range(item.first_line, item.first_line + item.rows)
            else:
                records, line_list = [], []
                for row in item:
                    if row.__class__ is RowError:
                        checker.error(row)
                    else:
                        records.append([slugs[row[1]], *row[2:6], *map(str, row[6:13])])
                        line_list.append(row.line)
                lines = line_list
            yield checker.batch(lines, records)
    finally:
        checker.close()


def _slow_rows_in_batches(items: Iterator) -> Iterator:
    """Pass Chunks on; gather the rows and errors between them into lists of a batch each."""
    batch: list = []
    for item in items:
        if item.__class__ is importers.Chunk:
            if batch:
                yield batch
                batch = []
            yield item
            continue
        batch.append(item)
        if len(batch) >= importers.BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


class _BatchChecker:
    """The per-row checks of a batch of split lines, with what spans batches (repeats, caps)."""

    def __init__(self, rules: dict[str, UtilityRules], today, max_errors: int) -> None:
        self.rules, self.today, self.max_errors = rules, today, max_errors
        self.today_text = today.isoformat()
        self.repeats = RepeatTracker()
        self.limits: dict[str, str] = {}  # period end -> the last day read_on may be
        self.errors: list[RowError] = []
        self.error_count = 0
        self.shown_errors = self.shown_flags = 0
        self.repeat = _("%(line)d行目と %(key)s が同じです。")

    def error(self, error: RowError) -> None:
        self.error_count += 1
        if self.shown_errors < self.max_errors:
            self.errors.append(error)
            self.shown_errors += 1

    def chunk(self, first_line: int, rows: int, text: str) -> tuple | None:
        """Check a well-formed chunk a column at a time; None if it needs the row-by-row check.

        That is a chunk with a wrong row (rare), or with rows of several utilities. The
        pattern that let the chunk through fixed every field's place in its lines: the number
        and the dates are slices at fixed offsets, the seven numbers one JSON array, and the
        checks ``map`` over whole columns in C, several times faster than Python per row.
        """
        slug = text[: text.find(",")]
        rules = self.rules.get(slug)
        if rules is None or text.count(f"\n{slug},") != rows - 1:
            return None
        lines = text.split("\n")
        lines.pop()  # the chunk ends with a newline
        number_end = len(slug) + 1 + rules.customer_number_digits
        numbers = list(map(itemgetter(slice(len(slug) + 1, number_end)), lines))
        # A chunk has a few distinct (start, end, read on) dates: each is checked once, and
        # every row of it shares the same three strings (pickled once, not once a row).
        dates = list(
            map(sys.intern, map(itemgetter(slice(number_end + 1, number_end + 33)), lines))
        )
        starts, ends, read_ons = {}, {}, {}
        for triple in set(dates):
            start, end, read_on = triple.split(",")
            if end < start or not start <= read_on <= self._limit(end) or read_on > self.today_text:
                return None
            starts[triple], ends[triple], read_ons[triple] = start, end, read_on
        flat = json.loads(f"[{','.join(map(itemgetter(slice(number_end + 34, None)), lines))}]")
        if len(flat) != rows * 7:
            return None
        numeric = [flat[i::7] for i in range(7)]
        previous, current, usage, water, sewer, tax, total = numeric
        rolled_over = list(map(gt, previous, current))
        if (
            any(map(ne, total, map(add, water, sewer)))
            or any(map(gt, tax, total))
            or any(map(gt, map(ne, usage, map(sub, current, previous)), rolled_over))
        ):
            return None
        columns = [list(map(d.__getitem__, dates)) for d in (starts, ends, read_ons)] + numeric
        line_range = range(first_line, first_line + rows)
        slugs = [slug] * rows
        if self.repeats.register_ascending(line_range, slug, numbers, columns[1], text):
            return self._batch_result(line_range, slugs, numbers, columns, rolled_over)
        dropped = self._repeats(line_range, slugs, numbers, columns[1], text)
        if not dropped:
            return self._batch_result(line_range, slugs, numbers, columns, rolled_over)
        kept = [index not in dropped for index in range(rows)]
        lines_kept, slugs, numbers, rolled_over = (
            list(compress(c, kept)) for c in (line_range, slugs, numbers, rolled_over)
        )
        columns = [list(compress(column, kept)) for column in columns]
        return self._batch_result(lines_kept, slugs, numbers, columns, rolled_over)

    def _batch_result(self, lines, slugs, numbers, columns, rolled_over) -> tuple:
        # Each customer's (utility, number) once a run, with the run's length: a fraction of
        # the bytes of one pair a row to send to the writer, which finds one id a run.
        count = len(numbers)
        changes = map(or_, map(ne, numbers[1:], numbers[:-1]), map(ne, slugs[1:], slugs[:-1]))
        starts = [0, *compress(range(1, count), changes)] if count else []
        runs = [(slugs[start], numbers[start]) for start in starts]
        lengths = list(map(sub, [*starts[1:], count], starts))
        flagged_lines = list(compress(lines, rolled_over))
        shown = flagged_lines[: max(0, self.max_errors - self.shown_flags)]
        self.shown_flags += len(shown)
        errors, error_count = self.errors, self.error_count
        self.errors, self.error_count = [], 0
        return lines, runs, lengths, columns, errors, error_count, shown, len(flagged_lines)

    def _repeats(self, lines, slugs, numbers, ends, text=None) -> set[int]:
        """Register the rows' keys; report repeats and return their positions."""
        repeats = self.repeats.register(lines, slugs, numbers, ends, text)
        for position, first in repeats.items():
            message = self.repeat % {"line": first, "key": "customer_number・period_end"}
            self.error(RowError(lines[position], "period_end", message))
        return set(repeats)

    def batch(self, lines: Iterable[int], records: list[list[str]]) -> tuple:
        """Check rows one by one (a chunk with a wrong row, or the rows after an odd block)."""
        good: list[tuple[int, list[str]]] = []
        for line, fields in zip(lines, records, strict=True):
            slug, number, start, end, read_on, a, b, c, d, e, f, g = fields
            previous, current, usage = int(a), int(b), int(c)
            water, sewer, tax, total = int(d), int(e), int(f), int(g)
            if (
                end < start
                or not start <= read_on <= self._limit(end)
                or read_on > self.today_text
                or total != water + sewer
                or tax > total
                or (current >= previous and usage != current - previous)
            ):
                # A row that fails its own checks is reported for those alone; the checks
                # across rows (known customer, repeated key) are for the rows that pass.
                for problem in importers.check_reading(line, fields, self.rules, self.today):
                    if problem.__class__ is RowError:
                        self.error(problem)
                continue
            good.append(
                (
                    line,
                    [
                        slug,
                        number,
                        start,
                        end,
                        read_on,
                        previous,
                        current,
                        usage,
                        water,
                        sewer,
                        tax,
                        total,
                    ],
                )
            )
        if dropped := self._repeats(
            [line for line, _fields in good],
            [fields[0] for _line, fields in good],
            [fields[1] for _line, fields in good],
            [fields[3] for _line, fields in good],
        ):
            good = [row for position, row in enumerate(good) if position not in dropped]
        lines = [line for line, _fields in good]
        slugs = [fields[0] for _line, fields in good]
        numbers = [fields[1] for _line, fields in good]
        columns = [list(column) for column in zip(*(f[2:] for _l, f in good), strict=True)]
        rolled_over = [fields[6] < fields[5] for _line, fields in good]
        return self._batch_result(lines, slugs, numbers, columns or [[]] * 10, rolled_over)

    def _limit(self, end: str) -> str:
        """The last day a reading of a period ending on ``end`` may be read (ISO dates)."""
        limit = self.limits.get(end)
        if limit is not None:
            return limit
        limit = (datetime.date.fromisoformat(end) + importers.READ_ON_GRACE).isoformat()
        if len(self.limits) < _LIMITS_CACHED:
            self.limits[end] = limit
        return limit

    def close(self) -> None:
        self.repeats.close()
