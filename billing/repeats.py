"""Find the same key twice in a file of millions of rows without holding every key in memory.

A key is (utility, customer number, period end). The tracker is given the file a batch at a
time, in order, and works in one of three modes, starting with the first:

- By customer: customers come in ascending order, each in one run (as CIS exports sort them:
  customer, then period). No earlier customer can come back, so only the last customer's
  period ends are kept in memory.
- By period: the keys strictly ascend as (period end, utility, customer number): monthly
  exports put one after the other, or a history sorted by period. No key can come twice.
- Any order: every key so far is kept in a table of a private scratch SQLite file, keyed by
  the key; each batch looks its keys up there and adds its new ones. A few microseconds a
  row, whatever the order, with the memory of one batch.

Until the third mode, each batch is also kept packed in the scratch file (a write, no
lookups), so that a file can fall back to the next mode when its order breaks: the first
time it does, the batches so far tell whether they ascend by period; if not, they fill the
table of keys.
"""

from __future__ import annotations

import marshal
import sqlite3
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from itertools import compress
from operator import add, itemgetter, lt, ne

Key = tuple[str, str, str]  # (utility, customer number, period end)
BY_CUSTOMER, BY_PERIOD, ANY_ORDER = "by customer", "by period", "any order"


class RepeatTracker:
    def __init__(self) -> None:
        self.mode = BY_CUSTOMER
        self._open_key: tuple[str, str] | None = None
        self._open: dict[str, int] = {}  # the last customer's period ends -> first line
        self._last_by_period = ""  # the last key so far as "period end,utility,number"
        self._db: sqlite3.Connection | None = None

    def register(
        self,
        lines: Sequence[int],
        slugs: Sequence[str],
        numbers: Sequence[str],
        ends: Sequence[str],
        text: str | None = None,
    ) -> dict[int, int]:
        """Remember a batch's keys; return {position in the batch: first line} for repeats.

        A repeated row is not remembered: a third row with that key names the first line too.
        ``text`` is the batch as CSV lines (a chunk whose ``lines`` are a range), kept as is.
        """
        count = len(lines)
        if not count:
            return {}
        if self.mode == BY_CUSTOMER:
            keys = list(zip(slugs, numbers, strict=True))
            bounds = [0, *compress(range(1, count), map(ne, keys[1:], keys[:-1]))]
            runs = [keys[begin] for begin in bounds]
            if (self._open_key is None or self._open_key <= runs[0]) and all(
                map(lt, runs[:-1], runs[1:])
            ):
                return self._register_by_customer(lines, keys, ends, runs[0], text)
            self._order_broke()
        if self.mode == BY_PERIOD:
            if self._ascends_by_period(slugs, numbers, ends):
                self._store(lines, slugs, numbers, ends, text)
                return {}
            self._order_broke()
        return self._register_unordered(lines, slugs, numbers, ends)

    def register_ascending(
        self, lines: range, slug: str, numbers: list[str], ends: list[str], text: str
    ) -> bool:
        """Remember a chunk of one utility's rows if its keys strictly ascend from the last.

        That is how a CIS export is sorted, and then none of the chunk's keys can have come
        before: True. Otherwise nothing is remembered (False) and ``register`` must be
        called. Numbers of one utility have one length, so number and period end side by
        side sort as the pair does.
        """
        if self.mode == BY_PERIOD and self._ascends_by_period([slug] * len(numbers), numbers, ends):
            self._store(lines, None, None, None, text)
            return True
        if self.mode != BY_CUSTOMER or not numbers:
            return False
        keys = list(map(add, numbers, ends))
        if not all(map(lt, keys, keys[1:])):
            return False
        first = (slug, numbers[0])
        if self._open_key is not None:
            if first < self._open_key:
                return False
            if first == self._open_key:
                head = bisect_right(numbers, numbers[0])
                if not self._open.keys().isdisjoint(ends[:head]):
                    return False
        tail = bisect_left(numbers, numbers[-1])
        last = dict(zip(ends[tail:], lines[tail:], strict=True))
        if first == self._open_key and tail == 0:
            self._open.update(last)
        else:
            self._open = last
        self._open_key = (slug, numbers[-1])
        self._store(lines, None, None, None, text)
        return True

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def _register_by_customer(self, lines, keys, ends, first_customer, text) -> dict[int, int]:
        """Customers in order: only the open customer (the last one so far) can come again."""
        repeats: dict[int, int] = {}
        earlier = {self._open_key: self._open} if self._open_key == first_customer else {}
        periods: dict[tuple[str, str], dict[str, int]] = {}
        for position, (key, end, line) in enumerate(zip(keys, ends, lines, strict=True)):
            seen = periods.get(key)
            if seen is None:
                seen = periods[key] = earlier.get(key, {})
            first = seen.get(end)
            if first is None:
                seen[end] = line
            else:
                repeats[position] = first
        self._open_key, self._open = keys[-1], periods[keys[-1]]
        slugs, numbers = zip(*keys, strict=True)
        self._store(lines, slugs, numbers, ends, text)
        return repeats

    def _ascends_by_period(self, slugs, numbers, ends) -> bool:
        """Whether these keys strictly ascend by period after the last; if so they are the last.

        "period end,utility,number" sorts as the tuple does: the comma sorts before every
        character of a utility's slug, and a utility's numbers have one length.
        """
        keys = [self._last_by_period, *map(",".join, zip(ends, slugs, numbers, strict=True))]
        if not all(map(lt, keys, keys[1:])):
            return False
        self._last_by_period = keys[-1]
        return True

    def _order_broke(self) -> None:
        """Go on in the next mode that the batches so far allow (they are all stored)."""
        if self.mode == BY_CUSTOMER:
            self.mode = BY_PERIOD
            if all(self._ascends_by_period(*batch[:3]) for batch in self._stored()):
                return
        self.mode = ANY_ORDER
        db = self._scratch()
        for slugs, numbers, ends, lines in self._stored():
            db.executemany(
                "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)",
                zip(slugs, numbers, ends, lines, strict=True),
            )
        db.execute("DELETE FROM batches")

    def _register_unordered(self, lines, slugs, numbers, ends) -> dict[int, int]:
        """Look a batch's keys up in the scratch table of keys so far, then add the new ones."""
        firsts: dict[Key, int] = {}
        repeats: dict[int, int] = {}
        for position, (key, line) in enumerate(
            zip(zip(slugs, numbers, ends, strict=True), lines, strict=True)
        ):
            first = firsts.setdefault(key, line)
            if first != line:
                repeats[position] = first
        db = self._scratch()
        db.executemany("INSERT INTO probe VALUES (?, ?, ?, ?)", _rows(firsts))
        earlier: dict[Key, int] = {
            (slug, number, end): line
            for slug, number, end, line in db.execute(
                "SELECT slug, number, period_end, seen.line FROM probe "
                "JOIN seen USING (slug, number, period_end)"
            )
        }
        # The keys seen before keep their first line: OR IGNORE leaves those rows be.
        db.execute("INSERT OR IGNORE INTO seen SELECT * FROM probe")
        db.execute("DELETE FROM probe")
        if earlier:
            for position, key in enumerate(zip(slugs, numbers, ends, strict=True)):
                if key in earlier:
                    repeats[position] = earlier[key]
        return repeats

    def _store(self, lines, slugs, numbers, ends, text) -> None:
        """Keep a batch, packed, in case the order breaks later."""
        if text is not None:  # the chunk's own lines: cheaper to keep than its columns
            data = marshal.dumps((lines.start, text))
        else:
            data = marshal.dumps((list(lines), list(slugs), list(numbers), list(ends)))
        self._scratch().execute("INSERT INTO batches (data) VALUES (?)", (data,))

    def _stored(self):
        """(utilities, numbers, period ends, lines) of each stored batch, one at a time."""
        # A cursor, not fetchall: the batches so far may be most of a large file.
        for (data,) in self._scratch().execute("SELECT data FROM batches ORDER BY batch"):
            yield _unpack(data)

    def _scratch(self) -> sqlite3.Connection:
        if self._db is None:
            # An empty name is a private temporary file, deleted when closed.
            self._db = sqlite3.connect("", isolation_level=None)
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute("CREATE TABLE batches (batch INTEGER PRIMARY KEY, data BLOB)")
            self._db.execute(
                "CREATE TABLE seen (slug TEXT, number TEXT, period_end TEXT, line INTEGER, "
                "PRIMARY KEY (period_end, slug, number)) WITHOUT ROWID"
            )
            self._db.execute(
                "CREATE TABLE probe (slug TEXT, number TEXT, period_end TEXT, line INTEGER)"
            )
        return self._db


class KeysAscend:
    """Whether the keys of a file's well-formed chunks, so far, strictly ascend in file order.

    Then no key can come twice, and the import of readings on PostgreSQL skips its SQL check
    for repeated keys (a GROUP BY over the staged file). A CIS export sorted by customer, then
    period, ascends; any other order, a chunk with several utilities' rows, or rows read one
    by one (``fail``) leave the SQL check to find the repeats. Only the last key is kept.
    """

    def __init__(self, digits: Mapping[str, int]) -> None:
        self._digits = {slug.encode(): length for slug, length in digits.items()}
        self._last: tuple[bytes, bytes] | None = None
        self.hold = True

    def add(self, data: bytes, rows: int) -> None:
        """Take a chunk: whole lines of one utility, each field where the chunk pattern put it.

        A line is ``utility,number,period start,period end,...``, the number of the utility's
        length and the dates 10 characters each, so number and period end are slices at fixed
        offsets, and joined they sort as the pair does.
        """
        if not self.hold:
            return
        slug = data[: data.find(b",")]
        length = self._digits.get(slug)
        if length is None or data.count(b"\n" + slug + b",") != rows - 1:
            self.fail()
            return
        lines = data.split(b"\n")
        lines.pop()  # the chunk ends with a newline
        number_end = len(slug) + 1 + length
        keys = list(
            map(
                add,
                map(itemgetter(slice(len(slug) + 1, number_end)), lines),
                map(itemgetter(slice(number_end + 12, number_end + 22)), lines),
            )
        )
        if (self._last is not None and (slug, keys[0]) <= self._last) or not all(
            map(lt, keys, keys[1:])
        ):
            self.fail()
            return
        self._last = (slug, keys[-1])

    def fail(self) -> None:
        self.hold = False


def _rows(firsts: dict[Key, int]):
    return ((slug, number, end, line) for (slug, number, end), line in firsts.items())


def _unpack(data: bytes) -> tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[int]]:
    """(utilities, numbers, period ends, lines) of a stored batch."""
    packed = marshal.loads(data)
    if len(packed) == 4:
        lines, slugs, numbers, ends = packed
        return slugs, numbers, ends, lines
    first, text = packed
    rows = [line.split(",") for line in text.split("\n") if line]
    return (
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[3] for row in rows],
        range(first, first + len(rows)),
    )
