"""Furigana of やさしい日本語: Aozora notation 「｜漢字《かんじ》」 in the catalog, ruby or brackets out.

Translators of ``ja-easy`` write a reading after a word in Aozora Bunko's notation: a full-width
｜ before the base and the reading in 《》 (「｜払《はら》います」). A run of kanji directly before
《》 needs no ｜ (「水道料金《すいどうりょうきん》」). This module is the one place that reads it:

- ``to_html`` for a page: ``<ruby>漢字<rp>(</rp><rt>かんじ</rt><rp>)</rp></ruby>`` in text, and
  「漢字(かんじ)」 where markup cannot go: inside a tag (attribute values such as ``aria-label``,
  ``placeholder``, ``value``) and in ``<title>``, ``<option>``, ``<textarea>``, ``<script>``,
  ``<style>`` and ``<svg>`` (its ``<title>``, ``<desc>`` and ``<text>``);
- ``to_text`` for mails, mail subjects, PDFs and anything else plain: 「漢字(かんじ)」.

Text without 《 is returned as it is, at the cost of one search.

What staff and the utility type (notices, the contact block) is shown as typed: where it is
rendered in やさしい日本語, ``typed_text`` (the template filter ``no_readings``) hides its 《 from
these passes, which put the 《 back.
"""

from __future__ import annotations

import bisect
import re

EASY_JAPANESE = "ja-easy"  # the language whose catalog writes readings (｜漢字《かんじ》)

# ｜base《reading》, as the translators write every reading (a literal first character: the
# regex engine skips to each ｜), and a kanji run《reading》 without the bar (々 and ヶ belong to
# a run), tried only where a 《 is left after the first.
_BAR = re.compile(r"｜([^｜《》<>\n]{1,30})《([^《》<>\n]{1,60})》")
_BARE = re.compile(r"([\u3400-\u9fff々〆ヶ]+)《([^《》<>\n]{1,60})》")
# Elements whose text takes no markup: their ruby is written as brackets. In an <svg> (the usage
# chart's <desc> and <text>) a <ruby> would close the picture: the HTML parser ends foreign
# content at it, and the bars and labels would spill out as text.
_PLAIN_ELEMENTS = re.compile(
    r"<(title|option|textarea|script|style|svg)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)


# A private-use character stands for a typed 《 until the readings are placed.
_TYPED = "\ue000"


def typed_text(text: str) -> str:
    """Text that holds no readings (staff-typed): its 《 is not the notation's."""
    return text.replace("《", _TYPED)


def _typed_back(text: str) -> str:
    return text.replace(_TYPED, "《") if _TYPED in text else text


def _plain(match: re.Match) -> str:
    return f"{match[1]}({match[2]})"


def _ruby(match: re.Match) -> str:
    return f"<ruby>{match[1]}<rp>(</rp><rt>{match[2]}</rt><rp>)</rp></ruby>"


def _each(text: str, replace) -> str:
    text = _BAR.sub(replace, text)
    return _BARE.sub(replace, text) if "《" in text else text


def to_text(text: str) -> str:
    """「｜漢字《かんじ》」 → 「漢字(かんじ)」 (mails, subjects, titles, PDFs)."""
    if "《" not in text:
        return _typed_back(text)
    return _typed_back(_each(text, _plain))


def strip(text: str) -> str:
    """「｜漢字《かんじ》」 → 「漢字」: the base alone (where a reading would be noise)."""
    if "《" not in text:
        return text
    return _each(text, lambda match: match[1])


def to_html(html: str) -> str:
    """Ruby in a page's text; brackets in tags and in elements that hold no markup.

    One pass over the readings (a page has tens), each placed by looking back for the nearest
    ``<`` and ``>`` (inside a tag or not) and among the few plain elements' spans: a 26 KB
    page is not split into its thousand tags.
    """
    if "《" not in html:
        return _typed_back(html)
    html = _BAR.sub(_placer(html), html)
    if "《" in html:
        html = _BARE.sub(_placer(html), html)
    return _typed_back(html)


def _placer(html: str):
    """A replacement for readings in ``html``: brackets where markup cannot go, else ruby."""
    plain = [match.span() for match in _PLAIN_ELEMENTS.finditer(html)]
    starts = [start for start, _end in plain]

    def place(match: re.Match) -> str:
        at = match.start()
        if html.rfind("<", 0, at) > html.rfind(">", 0, at):
            return _plain(match)  # inside a tag: an attribute's value
        n = bisect.bisect_right(starts, at) - 1
        if n >= 0 and at < plain[n][1]:
            return _plain(match)  # <title>, <option>, <textarea>, <script>, <style>, <svg>
        return _ruby(match)

    return place
