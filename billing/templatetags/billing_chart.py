"""Draw the usage chart as inline SVG from the geometry in billing.charts.

Built in Python rather than with template loops: 24 rows of bars, labels and values cost
hundreds of template variable lookups, and the history page is the one residents open most
after the dashboard (see bench/pages.py). Presentation attributes only, never ``style=``,
so a Content-Security-Policy without 'unsafe-inline' allows it.
"""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from billing.charts import BarChart
from portal.words import sentences

from .billing_format import cubic_metres_text

register = template.Library()

INK = "#1a1a1a"
MUTED = "#4a4a4a"
WATER = "#0b4f8a"  # the portal's water blue, 8.1:1 on white
LAST_YEAR = "#5f7385"  # hatched, so the two series differ by more than colour
GRID = "#d0d8e0"
HATCH = (
    '<pattern id="usage-chart-hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="4" height="4" fill="#ffffff"/>'
    f'<rect width="2" height="4" fill="{LAST_YEAR}"/></pattern>'
)


def _description(chart: BarChart) -> str:
    latest = chart.rows[0]
    text = _(
        "横棒グラフ。上から新しい順に直近%(periods)s期の使用水量を濃い青の棒で、"
        "前年同期の使用水量を薄い斜線の棒で示します。最新の%(label)s検針分は%(value)sです。"
    ) % {
        "periods": len(chart.rows),
        "label": latest.label,
        "value": cubic_metres_text(latest.value),
    }
    last_year = ""
    if latest.last_year is not None:
        last_year = _("前年同期は%(value)sでした。") % {
            "value": cubic_metres_text(latest.last_year)
        }
    return sentences(text, last_year, _("同じ数値をグラフの下の表に示します。"))


def _legend(chart: BarChart) -> list[str]:
    left = chart.plot_left
    return [
        f'<rect x="{left}" y="6" width="14" height="10" fill="{WATER}"/>',
        f'<text x="{left + 18}" y="15" fill="{INK}">{escape(_("使用水量"))}</text>',
        f'<rect x="{left + 100}" y="7" width="14" height="8" fill="url(#usage-chart-hatch)" '
        f'stroke="{LAST_YEAR}" stroke-width="1"/>',
        f'<text x="{left + 118}" y="15" fill="{INK}">{escape(_("前年同期"))}</text>',
        f'<text x="{left}" y="32" fill="{MUTED}" font-size="10">m³</text>',
    ]


def _scale(chart: BarChart) -> list[str]:
    parts = []
    for tick in chart.ticks:
        parts.append(
            f'<line x1="{tick.x}" y1="{chart.plot_top}" x2="{tick.x}" y2="{chart.plot_bottom}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{tick.x}" y="{chart.plot_top - 4}" text-anchor="middle" fill="{MUTED}" '
            f'font-size="10">{tick.value:,}</text>'
        )
    return parts


def _rows(chart: BarChart) -> list[str]:
    parts = []
    for row in chart.rows:
        parts.append(
            f'<text x="{chart.label_right}" y="{row.label_y}" text-anchor="end" fill="{INK}">'
            f"{escape(row.label)}</text>"
            f'<rect x="{chart.plot_left}" y="{row.bar_y}" width="{row.bar_width}" height="10" '
            f'fill="{WATER}"/>'
        )
        if row.last_year_width is not None:
            parts.append(
                f'<rect x="{chart.plot_left}" y="{row.last_year_y}" width="{row.last_year_width}"'
                f' height="7" fill="url(#usage-chart-hatch)" stroke="{LAST_YEAR}" stroke-width="1"/>'
            )
        parts.append(
            f'<text x="{row.value_x}" y="{row.value_y}" fill="{INK}" font-size="10">'
            f"{row.value:,}</text>"
        )
    return parts


@register.simple_tag
def usage_chart(chart: BarChart) -> SafeString:
    """Return the chart as an SVG image with a title and a description for screen readers."""
    axis = (
        f'<line x1="{chart.plot_left}" y1="{chart.plot_top}" x2="{chart.plot_left}" '
        f'y2="{chart.plot_bottom}" stroke="{INK}" stroke-width="1"/>'
    )
    # Outside the f-string: xgettext does not read gettext calls inside one.
    title = escape(_("使用水量のグラフ(直近の期間と前年同期)"))
    svg = "".join(
        [
            '<figure class="usage-chart"><svg xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {chart.width} {chart.height}" role="img" '
            'aria-labelledby="usage-chart-title usage-chart-desc" class="usage-chart__svg" '
            'font-size="12">',
            f'<title id="usage-chart-title">{title}</title>',
            f'<desc id="usage-chart-desc">{escape(_description(chart))}</desc>',
            f"<defs>{HATCH}</defs>",
            '<g aria-hidden="true">',
            *_legend(chart),
            *_scale(chart),
            *_rows(chart),
            axis,
            "</g></svg></figure>",
        ]
    )
    return mark_safe(svg)  # every interpolated text above is escaped; numbers are ints
