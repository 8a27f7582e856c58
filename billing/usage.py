"""Usage comparisons, the leak rule and daily averages: plain functions over readings, no DB."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, TypeVar

# Periods are read on slightly different days each year (weekends, holidays): a period ending
# within this many days of "one year earlier" counts as the same period last year.
SAME_PERIOD_TOLERANCE = datetime.timedelta(days=15)


class Period(Protocol):
    period_start: datetime.date
    period_end: datetime.date
    usage_m3: int


P = TypeVar("P", bound=Period)


@dataclass(frozen=True)
class Change:
    """How a period's usage differs from an earlier one."""

    base_m3: int
    difference_m3: int
    percent: int | None  # None when the earlier usage was 0: a ratio would mean nothing


@dataclass(frozen=True)
class Summary:
    """What the dashboard says about the latest period."""

    latest: Period
    previous: Period | None
    last_year: Period | None
    vs_previous: Change | None
    vs_last_year: Change | None
    days: int
    daily_average_m3: Decimal
    daily_average_litres: int
    possible_leak: bool


def compare(current_m3: int, base_m3: int) -> Change:
    """Return the change from ``base_m3`` to ``current_m3`` in m³ and whole percent."""
    difference = current_m3 - base_m3
    percent = None
    if base_m3:
        ratio = Decimal(difference * 100) / Decimal(base_m3)
        percent = int(ratio.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Change(base_m3=base_m3, difference_m3=difference, percent=percent)


def one_year_before(day: datetime.date) -> datetime.date:
    """Return the same calendar day a year earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def period_days(period: Period) -> int:
    """Return the number of days a period covers, both ends included."""
    return (period.period_end - period.period_start).days + 1


def same_period_last_year(period: P, candidates: Sequence[P]) -> P | None:
    """Return the candidate ending closest to one year before ``period`` ends, if close enough."""
    target = one_year_before(period.period_end)
    best: P | None = None
    for candidate in candidates:
        gap = abs(candidate.period_end - target)
        if gap <= SAME_PERIOD_TOLERANCE and (best is None or gap < abs(best.period_end - target)):
            best = candidate
    return best


def daily_average_m3(usage_m3: int, days: int) -> Decimal:
    """Return the average use per day in m³, to two decimal places."""
    if days <= 0:
        return Decimal("0.00")
    return (Decimal(usage_m3) / Decimal(days)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def daily_average_litres(usage_m3: int, days: int) -> int:
    """Return the average use per day in whole litres."""
    if days <= 0:
        return 0
    litres = Decimal(usage_m3 * 1000) / Decimal(days)
    return int(litres.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def is_possible_leak(
    current_m3: int, last_year_m3: int, *, ratio_percent: int, min_increase_m3: int
) -> bool:
    """Tell whether usage rose past both of the utility's leak thresholds against last year."""
    increase = current_m3 - last_year_m3
    return increase >= min_increase_m3 and current_m3 * 100 >= last_year_m3 * ratio_percent


def summarise(
    recent: Sequence[P], *, leak_ratio_percent: int, leak_min_increase_m3: int
) -> Summary | None:
    """Summarise the latest period of ``recent`` (newest first) against earlier ones."""
    if not recent:
        return None
    latest, earlier = recent[0], recent[1:]
    previous = earlier[0] if earlier else None
    last_year = same_period_last_year(latest, earlier)
    days = period_days(latest)
    return Summary(
        latest=latest,
        previous=previous,
        last_year=last_year,
        vs_previous=compare(latest.usage_m3, previous.usage_m3) if previous else None,
        vs_last_year=compare(latest.usage_m3, last_year.usage_m3) if last_year else None,
        days=days,
        daily_average_m3=daily_average_m3(latest.usage_m3, days),
        daily_average_litres=daily_average_litres(latest.usage_m3, days),
        possible_leak=last_year is not None
        and is_possible_leak(
            latest.usage_m3,
            last_year.usage_m3,
            ratio_percent=leak_ratio_percent,
            min_increase_m3=leak_min_increase_m3,
        ),
    )


def with_last_year(recent: Sequence[P], count: int) -> list[tuple[P, P | None]]:
    """Pair each of the ``count`` newest periods (newest first) with its period a year earlier."""
    return [
        (period, same_period_last_year(period, recent[index + 1 :]))
        for index, period in enumerate(recent[:count])
    ]
