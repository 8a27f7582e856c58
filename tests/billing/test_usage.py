"""Comparisons, the leak rule, daily averages, chart geometry and formatting: no DB, no HTTP."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from billing import charts, usage
from billing.models import MeterReading
from billing.templatetags.billing_format import (
    cubic_metres,
    jdate,
    jdate_text,
    jmonth,
    signed_cubic_metres,
    signed_percent,
    yen,
)


def reading(end: datetime.date, usage_m3: int, months: int = 2) -> MeterReading:
    start_month = end.month - months
    start_year = end.year + (start_month - 1) // 12
    start = datetime.date(start_year, (start_month - 1) % 12 + 1, 26)
    return MeterReading(period_start=start, period_end=end, read_on=end, usage_m3=usage_m3)


def bimonthly(usages_newest_first: list[int], last_end=datetime.date(2025, 5, 25)):
    ends = []
    year, month = last_end.year, last_end.month
    for _ in usages_newest_first:
        ends.append(datetime.date(year, month, 25))
        month -= 2
        if month < 1:
            month += 12
            year -= 1
    return [reading(end, m3) for end, m3 in zip(ends, usages_newest_first, strict=True)]


def test_compare_gives_difference_and_rounded_percent():
    assert usage.compare(25, 20) == usage.Change(base_m3=20, difference_m3=5, percent=25)
    assert usage.compare(20, 30).percent == -33
    assert usage.compare(21, 8).percent == 163  # 162.5 rounds half up
    assert usage.compare(5, 8).percent == -38  # -37.5 rounds away from zero


def test_compare_with_zero_base_has_no_percent():
    change = usage.compare(12, 0)
    assert change.difference_m3 == 12
    assert change.percent is None


def test_one_year_before_turns_29_february_into_28():
    assert usage.one_year_before(datetime.date(2024, 2, 29)) == datetime.date(2023, 2, 28)
    assert usage.one_year_before(datetime.date(2025, 5, 25)) == datetime.date(2024, 5, 25)


def test_same_period_last_year_tolerates_a_shifted_reading_day():
    latest = reading(datetime.date(2025, 5, 25), 20)
    shifted = reading(datetime.date(2024, 5, 27), 18)
    other = reading(datetime.date(2024, 3, 25), 30)
    assert usage.same_period_last_year(latest, [other, shifted]) is shifted


def test_same_period_last_year_is_none_when_that_period_is_missing():
    latest = reading(datetime.date(2025, 5, 25), 20)
    two_months_early = reading(datetime.date(2024, 3, 25), 18)
    assert usage.same_period_last_year(latest, [two_months_early]) is None


def test_daily_average_in_cubic_metres_and_litres():
    # 2025-03-26 to 2025-05-25 is 61 days.
    assert usage.daily_average_m3(20, 61) == Decimal("0.33")
    assert usage.daily_average_litres(20, 61) == 328
    assert usage.daily_average_m3(20, 0) == Decimal("0.00")


@pytest.mark.parametrize(
    ("current", "last_year", "expected"),
    [
        (40, 20, True),  # double and 20 m³ more
        (39, 20, False),  # 10+ m³ more, but not double
        (16, 8, False),  # double, but only 8 m³ more
        (18, 8, True),  # more than double, exactly 10 m³ more
        (10, 0, True),  # nothing last year, 10 m³ now
        (9, 0, False),
    ],
)
def test_leak_rule_needs_both_thresholds(current, last_year, expected):
    assert (
        usage.is_possible_leak(current, last_year, ratio_percent=200, min_increase_m3=10)
        is expected
    )


def test_leak_rule_follows_the_utilitys_thresholds():
    assert usage.is_possible_leak(30, 20, ratio_percent=150, min_increase_m3=5)
    assert not usage.is_possible_leak(29, 20, ratio_percent=150, min_increase_m3=5)


def test_summarise_compares_latest_with_previous_and_last_year():
    periods = bimonthly([25, 20, 22, 30, 18, 21, 19])  # 2025-05 back to 2024-05
    summary = usage.summarise(periods, leak_ratio_percent=200, leak_min_increase_m3=10)
    assert summary.latest is periods[0]
    assert summary.previous is periods[1]
    assert summary.last_year is periods[6]
    assert summary.vs_previous == usage.Change(base_m3=20, difference_m3=5, percent=25)
    assert summary.vs_last_year == usage.Change(base_m3=19, difference_m3=6, percent=32)
    assert summary.days == 61
    assert summary.daily_average_m3 == Decimal("0.41")
    assert summary.possible_leak is False


def test_summarise_flags_a_possible_leak_against_last_year_only():
    periods = bimonthly([45, 44, 22, 30, 18, 21, 20])
    summary = usage.summarise(periods, leak_ratio_percent=200, leak_min_increase_m3=10)
    assert summary.possible_leak is True
    # Against the previous period (44 m³) nothing looks odd: the rule is about last year.
    assert summary.vs_previous.difference_m3 == 1


def test_summarise_without_earlier_periods_has_no_comparisons():
    summary = usage.summarise(bimonthly([20]), leak_ratio_percent=200, leak_min_increase_m3=10)
    assert summary.previous is None and summary.vs_previous is None
    assert summary.last_year is None and summary.vs_last_year is None
    assert summary.possible_leak is False
    assert usage.summarise([], leak_ratio_percent=200, leak_min_increase_m3=10) is None


def test_with_last_year_pairs_each_period_within_the_window():
    periods = bimonthly(list(range(30, 20, -1)))  # ten periods, newest 30 m³
    pairs = usage.with_last_year(periods, 5)
    assert [p.usage_m3 for p, _ in pairs] == [30, 29, 28, 27, 26]
    assert [ly.usage_m3 if ly else None for _, ly in pairs] == [24, 23, 22, 21, None]


def test_nice_step_uses_1_2_5_steps():
    assert charts.nice_step(1) == 1
    assert charts.nice_step(5) == 1
    assert charts.nice_step(9) == 2
    assert charts.nice_step(23) == 5
    assert charts.nice_step(48) == 10
    assert charts.nice_step(120) == 50


def test_chart_rows_scale_to_the_plot_and_stack_down():
    chart = charts.usage_chart([("2025年5月", 40, 20), ("2025年3月", 20, None)])
    first, second = chart.rows
    span = charts.PLOT_RIGHT - charts.PLOT_LEFT
    assert [t.value for t in chart.ticks] == [0, 10, 20, 30, 40]
    assert chart.ticks[0].x == charts.PLOT_LEFT and chart.ticks[-1].x == charts.PLOT_RIGHT
    assert first.bar_width == span and first.last_year_width == span // 2
    assert second.last_year_width is None
    assert second.bar_y - first.bar_y == charts.ROW_HEIGHT
    assert chart.height == charts.TOP + 2 * charts.ROW_HEIGHT + charts.BOTTOM_MARGIN
    assert first.value_x == charts.PLOT_RIGHT + 4


def test_chart_of_zero_usage_has_a_scale_and_empty_bars():
    chart = charts.usage_chart([("2025年5月", 0, 0)])
    assert chart.rows[0].bar_width == 0
    assert [t.value for t in chart.ticks] == [0, 1]


def test_japanese_number_formats():
    assert yen(1234) == '<span class="nowrap">1,234円</span>'
    assert yen(0) == '<span class="nowrap">0円</span>'
    assert cubic_metres(12) == '<span class="nowrap">12 m³</span>'
    assert cubic_metres(1234) == '<span class="nowrap">1,234 m³</span>'
    assert cubic_metres(Decimal("0.33")) == '<span class="nowrap">0.33 m³</span>'
    assert signed_cubic_metres(5) == '<span class="nowrap">+5 m³</span>'
    assert signed_cubic_metres(-3) == '<span class="nowrap">\u22123 m³</span>'
    assert signed_cubic_metres(0) == '<span class="nowrap">±0 m³</span>'
    assert signed_percent(25) == "+25%"
    assert signed_percent(-10) == "\u221210%"
    assert signed_percent(None) == "—"


def test_dates_are_gregorian_in_japanese_style():
    assert jdate_text(datetime.date(2025, 5, 25)) == "2025年5月25日"
    assert jdate_text(datetime.date(2025, 10, 1)) == "2025年10月1日"
    assert jmonth(datetime.date(2025, 5, 25)) == "2025年5月"
    assert jdate_text(None) == ""


def test_a_date_on_a_page_never_breaks_so_a_range_breaks_only_at_the_wave_dash():
    assert jdate(datetime.date(2025, 10, 26)) == '<span class="nowrap">2025年10月26日</span>'
    assert jdate(None) == ""
