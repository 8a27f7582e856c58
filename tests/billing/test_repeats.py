"""RepeatTracker finds repeated (utility, customer, period end) keys across batches of a file."""

from __future__ import annotations

import random

import pytest

from billing.repeats import ANY_ORDER, BY_CUSTOMER, BY_PERIOD, KeysAscend, RepeatTracker


@pytest.fixture(params=["register", "ascending first"])
def ascending_first(request) -> bool:
    """Each test twice: with register alone, and as the reader does, register_ascending first."""
    return request.param == "ascending first"


def _feed(rows: list[tuple[str, str]], batch: int, ascending_first: bool) -> dict[int, int]:
    """Register rows of (customer, period end) from line 2 on; return {line: first line}."""
    return _run(rows, batch, ascending_first)[0]


def _run(rows, batch: int, ascending_first: bool) -> tuple[dict[int, int], str]:
    """{line: first line} of the repeats, and the mode the tracker ended in."""
    tracker = RepeatTracker()
    found: dict[int, int] = {}
    try:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            lines = range(start + 2, start + 2 + len(part))
            numbers, ends = [c for c, _ in part], [e for _, e in part]
            text = "".join(f"kanazawa,{c},2025-01-01,{e},{e},0,0,0,0,0,0,0\n" for c, e in part)
            if ascending_first and tracker.register_ascending(
                lines, "kanazawa", numbers, ends, text
            ):
                continue
            repeats = tracker.register(lines, ["kanazawa"] * len(part), numbers, ends, text)
            found.update({lines[position]: first for position, first in repeats.items()})
    finally:
        tracker.close()
    return found, tracker.mode


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
def test_a_sorted_file_without_repeats_has_none(batch, ascending_first):
    assert _feed(SORTED, batch, ascending_first) == {}


@pytest.mark.parametrize("batch", [1, 7, 12, 1000])
def test_repeats_next_to_each_other_and_across_batches(batch, ascending_first):
    rows = list(SORTED)
    rows.insert(30, rows[29])  # right after its first
    rows.insert(100, rows[60])  # same customer, later in its run
    rows.append(rows[100])  # the third time: still names the first line
    assert _feed(rows, batch, ascending_first) == _expected(rows)
    assert _expected(rows)[len(rows) + 1] == 62


@pytest.mark.parametrize("batch", [3, 25, 1000])
def test_an_unsorted_file_with_customers_coming_back(batch, ascending_first):
    rows = list(SORTED)
    random.Random(8).shuffle(rows)
    rows += [rows[0], rows[200], rows[-1]]
    assert _feed(rows, batch, ascending_first) == _expected(rows)
    assert len(_expected(rows)) == 3


def test_a_customer_that_comes_back_with_new_periods_is_no_repeat(ascending_first):
    rows = SORTED[:24] + [(SORTED[0][0], "2026-01-25"), (SORTED[0][0], "2026-02-25")]
    assert _feed(rows, 5, ascending_first) == {}


@pytest.mark.parametrize("batch", [4, 12, 1000])
def test_periods_in_descending_order_within_each_customer(batch, ascending_first):
    # Customers in order, each customer's periods newest first: no chunk ascends.
    customers = sorted({c for c, _ in SORTED})
    rows = [(c, f"2025-{m:02d}-25") for c in customers for m in range(12, 0, -1)]
    rows.insert(40, rows[36])  # a repeat inside one customer's run
    assert _feed(rows, batch, ascending_first) == _expected(rows)
    assert len(_expected(rows)) == 1


@pytest.mark.parametrize("batch", [5, 48])
def test_a_sorted_start_then_customers_coming_back(batch, ascending_first):
    # The first half ascends (chunks remembered cheaply), then old customers come back:
    # the repeats of rows remembered by the cheap path are still found, with their lines.
    half = len(SORTED) // 2
    tail = SORTED[half:] + [SORTED[3], SORTED[100], (SORTED[100][0], "2030-01-25")]
    random.Random(3).shuffle(tail)
    rows = SORTED[:half] + tail
    assert _feed(rows, batch, ascending_first) == _expected(rows)
    assert sorted(_expected(rows).values()) == [5, 102]


BY_PERIOD_ROWS = sorted(SORTED, key=lambda row: (row[1], row[0]))


@pytest.mark.parametrize("batch", [1, 7, 40, 1000])
def test_monthly_exports_one_after_the_other(batch, ascending_first):
    # Sorted by period, then customer: no key can come twice, and none is looked up.
    assert _run(SORTED, batch, ascending_first) == ({}, BY_CUSTOMER)
    assert _run(BY_PERIOD_ROWS, batch, ascending_first) == ({}, BY_PERIOD)


@pytest.mark.parametrize("batch", [1, 7, 40, 1000])
def test_a_repeat_in_a_file_sorted_by_period(batch, ascending_first):
    rows = list(BY_PERIOD_ROWS)
    rows.insert(200, rows[150])  # breaks the order: every key so far goes to the table
    rows.append(rows[3])
    found, mode = _run(rows, batch, ascending_first)
    assert found == _expected(rows) and len(found) == 2
    assert mode == ANY_ORDER


def _chunks(rows: list[tuple[str, str, str]], size: int, newline: str = "\n") -> list[bytes]:
    """Well-formed chunk bytes of ``size`` lines from rows of (utility, number, period end)."""
    lines = [
        f"{slug},{number},{end[:8]}01,{end},{end},100,110,10,2000,1500,318,3500{newline}"
        for slug, number, end in rows
    ]
    return ["".join(lines[i : i + size]).encode() for i in range(0, len(lines), size)]


def _hold(rows, size: int, newline: str = "\n") -> bool:
    order = KeysAscend({"kanazawa": 5, "nayoro": 3})
    for data in _chunks(rows, size, newline):
        order.add(data, data.count(b"\n"))
    return order.hold


CIS_ORDER = [
    ("kanazawa", number, end)
    for number in ("00001", "00002", "00010")
    for end in ("2025-01-31", "2025-02-28", "2025-03-31")
]


@pytest.mark.parametrize("size", [1, 2, 4, 9])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_sorted_by_customer_then_period_is_proven_free_of_repeats(size, newline):
    assert _hold(CIS_ORDER, size, newline)


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_a_repeated_key_within_or_across_chunks_is_never_proven_away(size):
    rows = [*CIS_ORDER[:3], CIS_ORDER[2], *CIS_ORDER[3:]]  # lines 4 and 5 have one key
    assert not _hold(rows, size)


def test_a_file_sorted_by_period_is_left_to_the_sql_check():
    by_period = sorted(CIS_ORDER, key=lambda row: (row[2], row[1]))
    assert not _hold(by_period, 3)


def test_a_chunk_of_two_utilities_is_left_to_the_sql_check():
    rows = [("kanazawa", "00001", "2025-01-31"), ("nayoro", "001", "2025-01-31")]
    assert not _hold(rows, 2)
    assert _hold(rows, 1)  # one utility a chunk, kanazawa < nayoro: still ascending


def test_rows_read_one_by_one_leave_it_to_the_sql_check():
    order = KeysAscend({"kanazawa": 5})
    order.fail()
    for data in _chunks(CIS_ORDER, 3):
        order.add(data, 3)
    assert not order.hold


def test_whatever_the_order_a_proven_file_has_no_repeated_key():
    rng = random.Random(20261202)
    proven = 0
    for _ in range(500):
        rows = [
            ("kanazawa", f"{rng.randint(1, 4):05d}", f"2025-0{rng.randint(1, 3)}-28")
            for _ in range(rng.randint(1, 8))
        ]
        if rng.random() < 0.5:
            rows.sort()
        holds = _hold(rows, rng.randint(1, 4))
        repeated = len(set(rows)) < len(rows)
        assert not (holds and repeated), rows
        assert holds == all(a < b for a, b in zip(rows, rows[1:], strict=False)), rows
        proven += holds
    assert proven > 50  # the check is not simply always off
