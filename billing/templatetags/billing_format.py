"""Japanese formatting of money, water and dates: 1,234円, 12 m³, +3 m³, −10%, 2025年5月25日."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

MINUS = "\u2212"  # a real minus sign: screen readers say "minus", not "hyphen"


def _signed(value: int | Decimal, text: str) -> str:
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"{MINUS}{text}"
    return f"±{text}"


def _unbroken(text: str) -> SafeString:
    """An amount and its unit never part at a line end (「32 m³」「7,672円」)."""
    return format_html('<span class="nowrap">{}</span>', text)


def yen_text(value: int | None) -> str:
    """Whole yen as plain text: 1234 → 「1,234円」."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}円"


def cubic_metres_text(value: int | Decimal | None) -> str:
    """A volume as plain text: 12 → 「12 m³」, Decimal("0.33") → 「0.33 m³」."""
    if value is None or value == "":
        return ""
    number = value if isinstance(value, Decimal) else int(value)
    return f"{number:,} m³"


@register.filter
def yen(value: int | None) -> str:
    """Format whole yen for a page, kept on one line: 1234 → 「1,234円」."""
    text = yen_text(value)
    return _unbroken(text) if text else text


@register.filter
def cubic_metres(value: int | Decimal | None) -> str:
    """Format a volume for a page, kept on one line: 12 → 「12 m³」."""
    text = cubic_metres_text(value)
    return _unbroken(text) if text else text


@register.filter
def thousands(value: int | None) -> str:
    """Write a whole number with thousands separators, as every figure here is: 32787 → 「32,787」."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}"


@register.filter
def signed_cubic_metres(value: int | None) -> str:
    """Format a change in volume with its sign: 「+5 m³」「−3 m³」「±0 m³」."""
    if value is None:
        return ""
    return _unbroken(_signed(value, f"{abs(int(value)):,} m³"))


@register.filter
def signed_percent(value: int | None) -> str:
    """Format a change in whole percent with its sign; nothing to compare gives 「—」."""
    if value is None:
        return "—"
    return _signed(value, f"{abs(int(value)):,}%")


# Dates are Gregorian everywhere on these pages (the slip's 令和 is not used): one format, here.
def jdate_text(value: datetime.date | None) -> str:
    """A date the Japanese way, as plain text: 「2025年5月25日」."""
    if not value:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


@register.filter
def jdate(value: datetime.date | None) -> str:
    """Format a date for a page, kept whole on one line: a range breaks only at 「〜」."""
    text = jdate_text(value)
    return _unbroken(text) if text else text


register.filter("jdate_text", jdate_text)


@register.filter
def jmonth(value: datetime.date | None) -> str:
    """Format the month of a date: 「2025年5月」."""
    if not value:
        return ""
    return f"{value.year}年{value.month}月"
