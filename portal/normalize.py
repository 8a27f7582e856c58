"""Japanese input normalisation shared by forms, matching and recovery (pure functions)."""

from __future__ import annotations

import re
import unicodedata

# Hyphens, dashes and the long-vowel mark people type in numbers: - ‐ ‑ ‒ – — ― − ｰ ー －
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff70\u30fc\uff0d"
_NUMBER_NOISE = re.compile(f"[\\s{re.escape(_HYPHENS)}]")
_SPACES = re.compile(r"\s+")
# NFKC has made （） into (): 076(220)2111 and (0165)42-6128 are how people write phones.
_PHONE_NOISE = re.compile(f"[\\s(){re.escape(_HYPHENS)}]")


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def digits(value: str) -> str:
    """Return a number as typed with full-width digits, spaces and any hyphen removed."""
    return _NUMBER_NOISE.sub("", unicodedata.normalize("NFKC", value or ""))


def phone(value: str) -> str:
    """Return a phone number as typed with brackets, full-width digits, spaces and hyphens removed."""
    return _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", value or ""))


def katakana(value: str) -> str:
    """Return kana as full-width katakana (hiragana and half-width kana accepted)."""
    text = nfkc(value)
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


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
