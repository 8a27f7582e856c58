"""Japanese input normalisation shared by forms, matching and recovery (pure functions)."""

from __future__ import annotations

import re
import unicodedata

# Hyphens, dashes and the long-vowel mark people type in numbers: - ‐ ‑ ‒ – — ― − ｰ ー － and
# the box-drawing lines a Japanese IME offers for 「ー」 (─ ━); NFKC leaves all but － and ｰ be.
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2500\u2501\uff70\u30fc\uff0d"
_NUMBER_NOISE = re.compile(f"[\\s{re.escape(_HYPHENS)}]")
_SPACES = re.compile(r"\s+")
# NFKC has made （） into (): 076(220)2111 and (0165)42-6128 are how people write phones.
_PHONE_NOISE = re.compile(f"[\\s(){re.escape(_HYPHENS)}]")


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def digits(value: str) -> str:
    """Return a number as typed with full-width digits, spaces and any hyphen removed."""
    return _NUMBER_NOISE.sub("", unicodedata.normalize("NFKC", value or ""))


# 1丁目2番3号, 1丁目2番地3, 2番地の3 and 1-2-3 are one address: each number's unit word (and
# 「の」 between numbers) is a separator, as a hyphen is.
_ADDRESS_UNITS = re.compile(r"(?<=\d)(?:丁目|番地の?|番の?|号|の)(?=\d|$)")
_ADDRESS_HYPHENS = re.compile(f"[{re.escape(_HYPHENS)}]+")


def date(value: str) -> str:
    """Return a date as typed (２０２６－０８－２６, 2026−08−26, spaces around) as 2026-08-26."""
    return _ADDRESS_HYPHENS.sub("-", nfkc(value))


def address(value: str) -> str:
    """Return an address in the one form addresses are compared in (signup and 契約の追加).

    NFKC (full-width digits), no spaces, every hyphen look-alike a ``-``, and 丁目/番地/番/号
    after a number read as the hyphen a resident may type instead (「1丁目2番3号」 = 「1-2-3」).
    Hyphens are kept as separators, so 「1-23」 and 「12-3」 stay two addresses.
    """
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value or ""))
    text = _ADDRESS_HYPHENS.sub("-", text)
    text = _ADDRESS_UNITS.sub("-", text)
    return _ADDRESS_HYPHENS.sub("-", text).strip("-")


_HYPHEN_BETWEEN_NUMBERS = re.compile(f"(?<=\\d)[{re.escape(_HYPHENS)}]+(?=\\d)")


def address_to_keep(value: str) -> str:
    """Return an address as it is saved and shown to staff: as typed, but NFKC (full-width
    digits half-width) and every hyphen look-alike between two numbers a ``-``.

    「11ー12」 (ー is what a phone's keyboard often gives for a hyphen) is kept as 「11-12」, as
    ``address`` already compares it. A ー inside a word (センター, コーポ) is a long vowel and
    stays; spaces between words stay too.
    """
    return _HYPHEN_BETWEEN_NUMBERS.sub("-", nfkc(value))


def phone(value: str) -> str:
    """Return a phone number as typed with brackets, full-width digits, spaces and hyphens removed."""
    return _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", value or ""))


def katakana(value: str) -> str:
    """Return kana as full-width katakana (hiragana and half-width kana accepted)."""
    text = nfkc(value)
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


# Between the parts of a name in kana: spaces, the middle dot (・, half-width ･) and the double
# hyphen foreign residents write their names with (ジョン＝スミス; ＝, =, the kana ゠).
_KANA_BREAKS = re.compile(r"[\s=\u30a0\u30fb]+")


def _kana_break(match: re.Match) -> str:
    run = match.group(0)
    if "=" in run or "\u30a0" in run:
        return "＝"
    return "・" if "・" in run else " "


def kana_name(value: str) -> str:
    """Return a name in kana as it is kept: full-width katakana, and each break between its
    parts one character: 「ジョン=スミス」「ジョン ＝ スミス」 → 「ジョン＝スミス」,
    「じょん･すみす」 → 「ジョン・スミス」, spaces one space."""
    return _KANA_BREAKS.sub(_kana_break, katakana(value)).strip(" ＝・")


def kana_key(value: str) -> str:
    """Return a name in kana as it is compared: without its breaks, so 「ジョン＝スミス」,
    「ジョン・スミス」 and 「ジョン スミス」 are one name (a register may write any of them)."""
    return _KANA_BREAKS.sub("", katakana(value))


def without_spaces(value: str) -> str:
    return _SPACES.sub("", nfkc(value))


def identifier(value: str) -> str:
    """Return a login ID or email address in the one form it is looked up, limited and locked by.

    NFKC turns full-width letters into their ASCII selves. Whatever is still not ASCII after
    that (a dotless ı, a Cyrillic а) can name no account: login IDs and addresses are ASCII,
    and callers must not hand such a value to a case-insensitive database lookup, where
    PostgreSQL's UPPER() would fold ``suıdotaro`` into ``SUIDOTARO``.
    """
    return nfkc(value).lower()


def can_name_an_account(value: str) -> bool:
    """Tell whether a normalised identifier could belong to anyone (ASCII, not empty)."""
    return bool(value) and value.isascii()


def secret_answer(value: str) -> str:
    """Return an answer in the one form it is hashed and compared in."""
    return without_spaces(katakana(value)).casefold()
