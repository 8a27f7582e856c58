"""Geometry of the usage chart, drawn as inline SVG by a template: plain numbers, no DB, no HTTP.

The chart is a horizontal bar chart, one row per period, newest at the top: on a 375 px phone
24 rows of labelled bars stay readable where 48 vertical bars would not. Every coordinate is a
whole number in the SVG's own units; the SVG scales to the screen through its viewBox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 360
LABEL_RIGHT = 70  # period labels end here (text-anchor: end)
PLOT_LEFT = 76
PLOT_RIGHT = WIDTH - 40  # room for the value printed after the longest bar
TOP = 48  # legend and scale above the first row
ROW_HEIGHT = 26
BOTTOM_MARGIN = 8
BAR_HEIGHT = 10
LAST_YEAR_BAR_HEIGHT = 7
MAX_TICKS = 5


@dataclass(frozen=True)
class Row:
    label: str
    value: int
    last_year: int | None
    label_y: int
    bar_y: int
    bar_width: int
    last_year_y: int
    last_year_width: int | None
    value_x: int
    value_y: int


@dataclass(frozen=True)
class Tick:
    value: int
    x: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    label_right: int
    rows: list[Row]
    ticks: list[Tick]


def nice_step(largest: int) -> int:
    """Return a scale step of 1, 2 or 5 × 10ⁿ giving at most MAX_TICKS steps up to ``largest``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if largest <= step * factor * MAX_TICKS:
                return step * factor
        step *= 10


def usage_chart(rows: Sequence[tuple[str, int, int | None]]) -> BarChart:
    """Lay out one row per (label, usage, usage a year earlier), in the order given."""
    largest = max([value for _, value, _ in rows] + [v or 0 for _, _, v in rows] + [1])
    step = nice_step(largest)
    scale_max = step * -(-largest // step)  # round up to a whole step
    span = PLOT_RIGHT - PLOT_LEFT

    def width_of(value: int) -> int:
        return round(value * span / scale_max)

    laid_out = []
    for index, (label, value, last_year) in enumerate(rows):
        top = TOP + index * ROW_HEIGHT
        bar_width = width_of(value)
        laid_out.append(
            Row(
                label=label,
                value=value,
                last_year=last_year,
                label_y=top + 16,
                bar_y=top + 3,
                bar_width=bar_width,
                last_year_y=top + 3 + BAR_HEIGHT + 2,
                last_year_width=None if last_year is None else width_of(last_year),
                value_x=PLOT_LEFT + bar_width + 4,
                value_y=top + 12,
            )
        )
    bottom = TOP + len(rows) * ROW_HEIGHT
    ticks = [
        Tick(value=value, x=PLOT_LEFT + width_of(value)) for value in range(0, scale_max + 1, step)
    ]
    return BarChart(
        width=WIDTH,
        height=bottom + BOTTOM_MARGIN,
        plot_left=PLOT_LEFT,
        plot_right=PLOT_RIGHT,
        plot_top=TOP,
        plot_bottom=bottom,
        label_right=LABEL_RIGHT,
        rows=laid_out,
        ticks=ticks,
    )
