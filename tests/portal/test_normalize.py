"""Dash look-alikes residents type in numbers, phones and addresses are read as hyphens."""

from __future__ import annotations

import pytest

from portal import normalize

# ー (U+30FC, the long-vowel mark a Japanese IME gives for 「-」), its half-width ｰ, the
# full-width －, the minus sign, the Unicode hyphens and dashes, and the box-drawing lines
# (─ ━) an IME offers among the conversions of 「ー」.
DASHES = ["-", "ー", "ｰ", "－", "−", "‐", "‑", "‒", "–", "—", "―", "─", "━"]


@pytest.mark.parametrize("dash", DASHES)
def test_a_customer_number_with_any_dash_is_its_digits(dash):
    assert normalize.digits(f"２００{dash}0000{dash}0002") == "20000000002"


@pytest.mark.parametrize("dash", DASHES)
def test_a_phone_with_any_dash_is_its_digits(dash):
    assert normalize.phone(f"0165{dash}42{dash}6128") == "0165426128"


@pytest.mark.parametrize("dash", DASHES)
def test_an_address_with_any_dash_reads_as_hyphens(dash):
    assert normalize.address(f"名寄市徳田4丁目25{dash}11") == "名寄市徳田4-25-11"
