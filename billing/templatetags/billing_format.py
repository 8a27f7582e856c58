"""Japanese formatting of money and water: 1,234円, 12 m³, +3 m³, −10%."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()

MINUS = "\u2212"  # a real minus sign: screen readers say "minus", not "hyphen"


def _signed(value: int | Decimal, text: str) -> str:
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"{MINUS}{text}"
    return f"±{text}"


@register.filter
def yen(value: int | None) -> str:
    """Format whole yen: 1234 → 「1,234円」."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}円"


@register.filter
def cubic_metres(value: int | Decimal | None) -> str:
    """Format a volume: 12 → 「12 m³」, Decimal("0.33") → 「0.33 m³」."""
    if value is None or value == "":
        return ""
    number = value if isinstance(value, Decimal) else int(value)
    return f"{number:,} m³"


@register.filter
def signed_cubic_metres(value: int | None) -> str:
    """Format a change in volume with its sign: 「+5 m³」「−3 m³」「±0 m³」."""
    if value is None:
        return ""
    return _signed(value, f"{abs(int(value)):,} m³")


@register.filter
def signed_percent(value: int | None) -> str:
    """Format a change in whole percent with its sign; nothing to compare gives 「—」."""
    if value is None:
        return "—"
    return _signed(value, f"{abs(int(value)):,}%")
