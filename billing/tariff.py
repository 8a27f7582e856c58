"""Water and sewer charges from a tariff held as data (one dict per utility, never code per city)."""

from __future__ import annotations

from dataclasses import dataclass

TAX_RATE_PERCENT = 10

# Tokyo's 23 wards, monthly, before tax (see shared TARIFF.md). Tiers are (up to m³, yen per m³);
# None means "and above". The sewer's first tier is a flat charge.
TOKYO_23_WARDS: dict = {
    "water_basic": {13: 860, 20: 1170, 25: 1460, 30: 3435, 40: 6865},
    "water_tiers": [
        (5, 0),
        (10, 22),
        (20, 128),
        (30, 163),
        (50, 202),
        (100, 213),
        (200, 298),
        (1000, 372),
        (None, 404),
    ],
    "sewer_flat": (8, 560),
    "sewer_tiers": [
        (20, 110),
        (30, 140),
        (50, 170),
        (100, 200),
        (200, 230),
        (500, 270),
        (1000, 310),
        (None, 345),
    ],
}


def tax_included(yen: int) -> int:
    """Return the consumption tax contained in a tax-inclusive amount, fractions dropped."""
    return yen * TAX_RATE_PERCENT // (100 + TAX_RATE_PERCENT)


@dataclass(frozen=True)
class Charge:
    water: int
    sewer: int

    @property
    def total(self) -> int:
        return self.water + self.sewer

    @property
    def tax(self) -> int:
        """Return the consumption tax contained in the tax-inclusive total."""
        return tax_included(self.total)


def _tiered(m3: int, tiers: list, start: int = 0) -> int:
    yen, lower = 0, start
    for upper, rate in tiers:
        if m3 <= lower:
            break
        top = m3 if upper is None else min(m3, upper)
        yen += (top - lower) * rate
        lower = top
    return yen


def _with_tax(yen: int) -> int:
    # Each month is taxed on its own and fractions of a yen are dropped (Tokyo's rule).
    return yen * (100 + TAX_RATE_PERCENT) // 100


def monthly_charge(tariff: dict, diameter_mm: int, m3: int) -> Charge:
    """Return one month's tax-inclusive water and sewer charges."""
    basic = tariff["water_basic"].get(diameter_mm, max(tariff["water_basic"].values()))
    water = basic + _tiered(m3, tariff["water_tiers"])
    flat_upto, flat_yen = tariff["sewer_flat"]
    sewer = flat_yen + _tiered(m3, tariff["sewer_tiers"], start=flat_upto)
    return Charge(water=_with_tax(water), sewer=_with_tax(sewer))


def calculate_charge(tariff: dict, diameter_mm: int, m3: int, months: int = 1) -> Charge:
    """Return the charge for a billing period of one or more months.

    The period's volume is split evenly between its months, the odd m³ going to the first
    months, and each month is charged and taxed on its own (Tokyo Waterworks' two-month rule).
    """
    base, extra = divmod(m3, months)
    parts = [
        monthly_charge(tariff, diameter_mm, base + (1 if i < extra else 0)) for i in range(months)
    ]
    return Charge(water=sum(p.water for p in parts), sewer=sum(p.sewer for p in parts))
