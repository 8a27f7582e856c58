"""Furigana of やさしい日本語: Aozora notation 「｜漢字《かんじ》」 in the catalog, ruby or brackets out.

Translators of ``ja-easy`` write a reading after a word in Aozora Bunko's notation: a full-width
｜ before the base and the reading in 《》 (「｜払《はら》います」). A run of kanji directly before
《》 needs no ｜ (「水道料金《すいどうりょうきん》」). This module is the one place that reads it:

- ``to_html`` for a page: ``<ruby>漢字<rp>(</rp><rt>かんじ</rt><rp>)</rp></ruby>`` in text, and
  「漢字(かんじ)」 where markup cannot go: inside a tag (attribute values such as ``aria-label``,
  ``placeholder``, ``value``) and in ``<title>``, ``<option>``, ``<textarea>``, ``<script>`` and
  ``<style>``;
- ``to_text`` for mails, mail subjects, PDFs and anything else plain: 「漢字(かんじ)」.

Text without 《 is returned as it is, at the cost of one search.
"""

from __future__ import annotations

import re

# ｜base《reading》, or a kanji run《reading》 (々 and ヶ belong to a kanji run).
_RUBY = re.compile(
    r"｜([^｜《》<>\n]{1,30})《([^《》<>\n]{1,60})》|([\u3400-\u9fff々〆ヶ]+)《([^《》<>\n]{1,60})》"
)
# A tag, or a comment, as a whole.
_TAG = re.compile(r"(<!--.*?-->|<[^>]*>)", re.S)
# Elements whose text takes no markup: their ruby is written as brackets.
_PLAIN_ELEMENTS = ("title", "option", "textarea", "script", "style")
_OPEN = re.compile(r"<(title|option|textarea|script|style)[\s>]", re.I)
_CLOSE = re.compile(r"</(title|option|textarea|script|style)\s*>", re.I)


def _plain(match: re.Match) -> str:
    base, reading = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
    return f"{base}({reading})"


def _ruby(match: re.Match) -> str:
    base, reading = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
    return f"<ruby>{base}<rp>(</rp><rt>{reading}</rt><rp>)</rp></ruby>"


def to_text(text: str) -> str:
    """「｜漢字《かんじ》」 → 「漢字(かんじ)」 (mails, subjects, titles, PDFs)."""
    if "《" not in text:
        return text
    return _RUBY.sub(_plain, text)


def strip(text: str) -> str:
    """「｜漢字《かんじ》」 → 「漢字」: the base alone (where a reading would be noise)."""
    if "《" not in text:
        return text
    return _RUBY.sub(lambda m: m[1] if m[1] is not None else m[3], text)


def to_html(html: str) -> str:
    """Ruby in a page's text; brackets in tags and in elements that hold no markup."""
    if "《" not in html:
        return html
    pieces = _TAG.split(html)
    inside: str | None = None  # the plain element we are in, if any
    for n, piece in enumerate(pieces):
        if n % 2:  # a tag or comment
            if "《" in piece:
                pieces[n] = _RUBY.sub(_plain, piece)
            if inside is None:
                opened = _OPEN.match(piece + " ")
                if opened:
                    inside = opened[1].lower()
            else:
                closed = _CLOSE.match(piece)
                if closed and closed[1].lower() == inside:
                    inside = None
        elif "《" in piece:
            pieces[n] = _RUBY.sub(_plain if inside else _ruby, piece)
    return "".join(pieces)
