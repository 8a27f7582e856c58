"""Money, water and dates in the page's language: 1,234円 / ¥1,234, 12 m³ (every language),
+3 m³, −10%, 2025年5月25日 (日本語, やさしい日本語) / 25 May 2025 (English).

One place for every format a resident reads: the templates' filters here, and the ``*_text``
functions for mails and Python-side messages (they follow the active language, so a mail
written in a member's language, portal.outbox, gets that language's dates).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

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


# English month names, fixed (strftime's %b follows the process's C locale).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _english() -> bool:
    return (get_language() or "").startswith("en")


def yen_text(value: int | None) -> str:
    """Whole yen as plain text: 1234 → 「1,234円」 (English 「¥1,234」)."""
    if value is None or value == "":
        return ""
    if _english():
        return f"\u00a5{int(value):,}" if int(value) >= 0 else f"-\u00a5{abs(int(value)):,}"
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


def _local(value):
    """A moment as the Japan-time date and time a resident reads (a date as it is)."""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


# Dates are Gregorian everywhere on these pages (the slip's 令和 is not used): one format, here.
def jdate_text(value: datetime.date | None) -> str:
    """A date as plain text: 「2025年5月25日」 (English 「25 May 2025」); a moment in Japan time."""
    if not value:
        return ""
    value = _local(value)
    if _english():
        return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"


def month_day_text(value: datetime.date | None) -> str:
    """A day of this year as plain text: 「11月26日」 (English 「26 Nov」)."""
    if not value:
        return ""
    value = _local(value)
    if _english():
        return f"{value.day} {_MONTHS[value.month - 1]}"
    return f"{value.month}月{value.day}日"


def time_text(value: datetime.datetime | None) -> str:
    """The time of a moment in Japan: 「9:05」, in English 「9:05 am」 (as the hours read,
    「7:00 am – 2:00 am every day」)."""
    if not value:
        return ""
    value = _local(value)
    if _english():
        hour = value.hour % 12 or 12
        return f"{hour}:{value.minute:02d} {'am' if value.hour < 12 else 'pm'}"
    return f"{value.hour}:{value.minute:02d}"


@register.filter
def jdatetime(value: datetime.datetime | None) -> str:
    """A moment for a page: 「2025年5月25日 9:05」 (English 「25 May 2025 9:05」)."""
    if not value:
        return ""
    return f"{jdate_text(value)} {time_text(value)}"


@register.filter
def month_day_time(value: datetime.datetime | None) -> str:
    """A moment of this year: 「5月25日 9:05」 (English 「25 May 9:05」)."""
    if not value:
        return ""
    return f"{month_day_text(value)} {time_text(value)}"


register.filter("month_day", month_day_text)


@register.filter
def jdate(value: datetime.date | None) -> str:
    """Format a date for a page, kept whole on one line: a range breaks only at 「〜」."""
    text = jdate_text(value)
    return _unbroken(text) if text else text


register.filter("jdate_text", jdate_text)
register.filter("yen_text", yen_text)


def range_text(first: str, last: str) -> str:
    """Two ends of a range, dates or days already written: 「2026年10月26日〜2026年11月25日」,
    in English with an en dash between spaces, 「26 Oct 2026 – 25 Nov 2026」 (〜 is a Japanese
    mark). Every range of dates a resident reads, on a page or in a mail, is joined here."""
    return f"{first}{_range_separator()}{last}"


def _range_separator() -> str:
    return " \u2013 " if _english() else "〜"


def period_text(start: datetime.date, end: datetime.date) -> str:
    """A period as plain text for mails: 「2026年10月26日〜2026年11月25日」."""
    return range_text(jdate_text(start), jdate_text(end))


@register.filter
def period_of(value) -> str:
    """The plain-text period of anything with ``period_start`` and ``period_end`` (a reading)."""
    return period_text(value.period_start, value.period_end)


@register.filter
def period(value) -> SafeString:
    """The period of a reading or a bill for a page: each date kept whole on one line, the
    range breaking only between them (「2026年10月26日〜2026年11月25日」)."""
    return format_html(
        "{}{}{}", jdate(value.period_start), _range_separator(), jdate(value.period_end)
    )


@register.filter
def jmonth(value: datetime.date | None) -> str:
    """Format the month of a date: 「2025年5月」 (English 「May 2025」)."""
    if not value:
        return ""
    if _english():
        return f"{_MONTHS[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月"
