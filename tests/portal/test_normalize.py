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


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("金沢市大手町３丁目１１ー１２", "金沢市大手町3丁目11-12"),
        ("金沢市広坂2丁目15ｰ7", "金沢市広坂2丁目15-7"),
        ("金沢市広坂2丁目15―7", "金沢市広坂2丁目15-7"),
        ("金沢市広坂2丁目15ーー7", "金沢市広坂2丁目15-7"),
        # ー inside a word is a long vowel, not a hyphen, and stays.
        ("金沢市駅西本町センター1ー2 コーポ１０１", "金沢市駅西本町センター1-2 コーポ101"),
        ("  金沢市広坂２丁目１５－７  ", "金沢市広坂2丁目15-7"),
    ],
)
def test_an_address_is_kept_with_plain_hyphens_between_numbers(typed, kept):
    assert normalize.address_to_keep(typed) == kept
    assert normalize.address(typed) == normalize.address(kept)  # compared the same way


# A foreign resident writes their name in kana with a double hyphen or a dot between its parts.
@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ジョン＝スミス", "ジョン＝スミス"),
        ("ジョン=スミス", "ジョン＝スミス"),
        ("ジョン ＝ スミス", "ジョン＝スミス"),
        ("ジョン゠スミス", "ジョン＝スミス"),
        ("じょん･すみす", "ジョン・スミス"),
        ("ジョン　 スミス", "ジョン スミス"),
    ],
)
def test_a_kana_name_keeps_one_break_between_its_parts(typed, kept):
    assert normalize.kana_name(typed) == kept


def test_kana_names_compare_without_their_breaks():
    keys = {
        normalize.kana_key(name) for name in ["ジョン＝スミス", "ジョン・スミス", "じょん すみす"]
    }
    assert keys == {"ジョンスミス"}
