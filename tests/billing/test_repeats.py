"""RepeatTracker finds repeated (utility, customer, period end) keys across batches of a file."""

from __future__ import annotations

import random

import pytest

from billing.repeats import RepeatTracker


def _feed(rows: list[tuple[str, str]], batch: int) -> dict[int, int]:
    """Register rows of (customer, period end) from line 2 on; return {line: first line}."""
    tracker = RepeatTracker()
    found: dict[int, int] = {}
    try:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            lines = range(start + 2, start + 2 + len(part))
            repeats = tracker.register(
                lines, ["kanazawa"] * len(part), [c for c, _ in part], [e for _, e in part]
            )
            found.update({lines[position]: first for position, first in repeats.items()})
    finally:
        tracker.close()
    return found


def _expected(rows: list[tuple[str, str]]) -> dict[int, int]:
    first: dict[tuple[str, str], int] = {}
    found = {}
    for line, key in enumerate(rows, start=2):
        if key in first:
            found[line] = first[key]
        else:
            first[key] = line
    return found


SORTED = [(f"{c:014d}", f"2025-{m:02d}-25") for c in range(1, 41) for m in range(1, 13)]


@pytest.mark.parametrize("batch", [1, 5, 12, 50, 1000])
def test_a_sorted_file_without_repeats_has_none(batch):
    assert _feed(SORTED, batch) == {}


@pytest.mark.parametrize("batch", [1, 7, 12, 1000])
def test_repeats_next_to_each_other_and_across_batches(batch):
    rows = list(SORTED)
    rows.insert(30, rows[29])  # right after its first
    rows.insert(100, rows[60])  # same customer, later in its run
    rows.append(rows[100])  # the third time: still names the first line
    assert _feed(rows, batch) == _expected(rows)
    assert _expected(rows)[len(rows) + 1] == 62


@pytest.mark.parametrize("batch", [3, 25, 1000])
def test_an_unsorted_file_with_customers_coming_back(batch):
    rows = list(SORTED)
    random.Random(8).shuffle(rows)
    rows += [rows[0], rows[200], rows[-1]]
    assert _feed(rows, batch) == _expected(rows)
    assert len(_expected(rows)) == 3


def test_a_customer_that_comes_back_with_new_periods_is_no_repeat():
    rows = SORTED[:24] + [(SORTED[0][0], "2026-01-25"), (SORTED[0][0], "2026-02-25")]
    assert _feed(rows, 5) == {}
