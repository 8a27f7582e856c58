"""Find the same key twice in a file of millions of rows without holding every key in memory.

A key is (utility, customer number, period end). The tracker is given the file a batch at a
time, in order. It keeps in memory only the last customer's period ends: an export lists
each customer's rows together, so the next batch usually goes on with that customer. Every
batch is also written, packed in one row, to a private scratch SQLite file.

While customers come in ascending order (as CIS exports sort them), no earlier customer can
come back, and the scratch file is only written. The first time the order breaks, an index of
which batches hold each customer is built from the scratch file, and from then on each batch
asks it about its customers: slower, but as exact, for an unsorted file.
"""

from __future__ import annotations

import marshal
import sqlite3
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress
from operator import add, lt, ne


class RepeatTracker:
    def __init__(self) -> None:
        self._open_key: tuple[str, str] | None = None
        self._open: dict[str, int] = {}  # the last customer's period ends -> first line
        self._ordered = True  # customers so far in ascending order, each in one run
        self._batches = 0
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
        keys = list(zip(slugs, numbers, strict=True))
        bounds = [0, *compress(range(1, count), map(ne, keys[1:], keys[:-1])), count]
        runs = [keys[begin] for begin in bounds[:-1]]
        if self._ordered and not (
            (self._open_key is None or self._open_key <= runs[0])
            and all(map(lt, runs[:-1], runs[1:]))
        ):
            self._ordered = False
            self._index_batches()
        if self._ordered:
            earlier = {}
        else:
            earlier = self._earlier({key for key in runs if key != self._open_key})
        if self._open_key in runs:
            earlier[self._open_key] = self._open
        repeats: dict[int, int] = {}
        plain = len(set(zip(keys, ends, strict=True))) == count and all(
            key == self._open_key and begin == 0
            for key, begin in zip(runs, bounds, strict=False)
            if key in earlier
        )
        if plain and self._open_key == runs[0]:
            plain = self._open.keys().isdisjoint(ends[: bounds[1]])
        if plain:
            last = dict(zip(ends[bounds[-2] :], lines[bounds[-2] :], strict=True))
            if len(runs) == 1 and runs[0] == self._open_key:
                self._open.update(last)
                last = self._open
            else:
                self._open = last
        else:
            periods: dict[tuple[str, str], dict[str, int]] = {}
            for position, (key, end, line) in enumerate(zip(keys, ends, lines, strict=True)):
                seen = periods.get(key)
                if seen is None:
                    seen = periods[key] = dict(earlier.get(key, {}))
                first = seen.get(end)
                if first is None:
                    seen[end] = line
                else:
                    repeats[position] = first
            self._open = periods[keys[-1]]
        self._open_key = keys[-1]
        self._store(lines, slugs, numbers, ends, set(runs), text)
        return repeats

    def register_ascending(
        self, lines: range, slug: str, numbers: list[str], ends: list[str], text: str
    ) -> bool:
        """Remember a chunk of one utility's rows if its keys strictly ascend from the last.

        That is how a CIS export is sorted (customer, then period), and then none of the
        chunk's keys can have come before: True. Otherwise nothing is remembered (False)
        and ``register`` must be called. Numbers of one utility have one length, so number
        and period end side by side sort as the pair does.
        """
        if not self._ordered or not numbers:
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
        self._store(lines, None, None, None, set(), text)
        return True

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def _earlier(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, int]]:
        """{key: {period end: first line}} of those keys that were in earlier batches."""
        if not keys or not self._batches:
            return {}
        maybe = list(keys)
        db = self._scratch()
        db.executemany("INSERT INTO probe VALUES (?, ?)", maybe)
        found = db.execute(
            # CROSS JOIN keeps this order: each probed key looks up the index on seen.
            "SELECT b.batch, b.data FROM batches b WHERE b.batch IN (SELECT s.batch "
            "FROM probe p CROSS JOIN seen s ON s.utility = p.utility AND s.number = p.number) "
            "ORDER BY b.batch"
        ).fetchall()
        db.execute("DELETE FROM probe")
        wanted = set(maybe)
        periods: dict[tuple[str, str], dict[str, int]] = {}
        for _batch, data in found:
            slugs, numbers, ends, lines = _unpack(data)
            for key, end, line in zip(zip(slugs, numbers, strict=True), ends, lines, strict=True):
                if key in wanted:
                    periods.setdefault(key, {}).setdefault(end, line)
        return periods

    def _store(self, lines, slugs, numbers, ends, keys: set[tuple[str, str]], text) -> None:
        self._batches += 1
        if text is not None:  # the chunk's own lines: cheaper to keep than its columns
            data = marshal.dumps((lines.start, text))
        else:
            data = marshal.dumps((list(lines), list(slugs), list(numbers), list(ends)))
        db = self._scratch()
        db.execute("INSERT INTO batches VALUES (?, ?)", (self._batches, data))
        if not self._ordered:
            db.executemany(f"INSERT INTO seen VALUES (?, ?, {self._batches})", keys)

    def _index_batches(self) -> None:
        """Build the index of which batches hold each customer, for the batches so far."""
        if not self._batches:
            return
        db = self._scratch()
        for batch, data in db.execute("SELECT batch, data FROM batches").fetchall():
            slugs, numbers, _ends, _lines = _unpack(data)
            keys = set(zip(slugs, numbers, strict=True))
            db.executemany(f"INSERT INTO seen VALUES (?, ?, {batch})", keys)

    def _scratch(self) -> sqlite3.Connection:
        if self._db is None:
            # An empty name is a private temporary file, deleted when closed.
            self._db = sqlite3.connect("", isolation_level=None)
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute("CREATE TABLE batches (batch INTEGER PRIMARY KEY, data BLOB)")
            self._db.execute("CREATE TABLE seen (utility TEXT, number TEXT, batch INTEGER)")
            self._db.execute("CREATE INDEX seen_key ON seen (utility, number)")
            self._db.execute("CREATE TEMPORARY TABLE probe (utility TEXT, number TEXT)")
        return self._db


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
