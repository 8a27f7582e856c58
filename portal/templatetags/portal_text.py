"""Text helpers for every page."""

from __future__ import annotations

import re

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import get_language

from portal import furigana, normalize, words

register = template.Library()

# A phone number as a contact block writes it: 076-220-2111, (0165)42-6128, ０３－１２３４－５６７８.
# What it reads as (normalize.phone) must be 10 or 11 digits from 0, so 内線3361 and 8:30 are not.
_PHONE_LIKE = re.compile(
    r"[(\uff08]?[0\uff10][0-9\uff10-\uff19()\uff08\uff09\-\uff0d\u2010\u2212\u30fc]{8,16}[0-9\uff10-\uff19]"
)


@register.filter
def phrase(value: str) -> SafeString:
    """Keep a name in one piece where a heading wraps: 「金沢市上下水道ポータルサイト|利用規約」.

    The browser's phrase finder (``word-break: auto-phrase``) sees a utility's name and the
    words after it as one phrase and, when that is wider than the line, breaks it anywhere
    (「…サイト利|用規約」); as one box, the name moves whole and breaks inside only when it is
    wider than the line itself.

    On an English page the name, Japanese as typed, is marked ``lang="ja"``: a screen reader
    reads it in Japanese, and the browser finds its phrases there too.
    """
    if (get_language() or "ja").startswith("ja"):
        return format_html('<span class="phrase">{}</span>', value)
    return format_html('<span class="phrase" lang="ja">{}</span>', value)


@register.filter
def as_typed(value: str) -> str | SafeString:
    """Japanese as typed (a utility's name) inside a sentence of another language: marked
    ``lang="ja"`` there, so a screen reader reads it in Japanese and the browser breaks it
    between its phrases, not inside a word; on a Japanese page, the text as it is."""
    if (get_language() or "ja").startswith("ja"):
        return value
    return format_html('<span lang="ja">{}</span>', value)


@register.filter
def lang_attr(value) -> SafeString:
    """` lang="ja"` for the block of a text staff typed in Japanese shown on a page of another
    language (``portal.models.LocalText``), so a screen reader switches to a Japanese voice."""
    return mark_safe(' lang="ja"') if getattr(value, "lang", "") == "ja" else mark_safe("")


@register.filter
def live_regions(messages) -> list[tuple[str, list]]:
    """Split Django messages into the live regions that announce them: errors at once
    (``alert``), every other level politely (``status``); an empty region is left out."""
    errors, others = [], []
    for message in messages:
        (errors if message.level_tag == "error" else others).append(message)
    return [(role, listed) for role, listed in (("alert", errors), ("status", others)) if listed]


def _is_phone(digits: str) -> bool:
    return (
        digits.isascii() and digits.isdigit() and digits.startswith("0") and 10 <= len(digits) <= 11
    )


@register.filter
def phone_links(text: str) -> SafeString:
    """Return a contact block as HTML: each line escaped, each phone number a ``tel:`` link
    (a resident on a phone calls with one tap), lines joined with ``<br>``."""
    lines = []
    for line in (text or "").splitlines():
        parts, end = [], 0
        for match in _PHONE_LIKE.finditer(line):
            digits = normalize.phone(match.group(0))
            if not _is_phone(digits):
                continue
            parts.append(conditional_escape(line[end : match.start()]))
            parts.append(format_html('<a href="tel:{}">{}</a>', digits, match.group(0)))
            end = match.end()
        parts.append(conditional_escape(line[end:]))
        lines.append("".join(parts))
    return mark_safe("<br>".join(lines))  # every part above is escaped


@register.filter
def no_readings(value):
    """What staff or the utility typed, shown as typed: in やさしい日本語 a 「｜漢字《かんじ》」 in it
    is not turned into a reading (portal.furigana); in the other languages nothing is."""
    if get_language() != "ja-easy" or not isinstance(value, str) or "《" not in value:
        return value
    text = furigana.typed_text(value)
    return mark_safe(text) if isinstance(value, SafeData) else text  # noqa: S308 - was safe


@register.simple_tag
def word_gap() -> str:
    """ " " between a word and its bracket in English, nothing in Japanese (portal.words.gap)."""
    return words.gap()


@register.filter
def without_readings(value: str) -> str:
    """「｜漢字《かんじ》」 as 「漢字」: a catalog's words where they are read aloud (an
    ``aria-label``), where a reading in brackets would be read twice."""
    return furigana.strip(str(value))


@register.inclusion_tag("includes/_stale_version.html", takes_context=True)
def stale_version_note(context, *texts) -> dict:
    """Above a text staff gave in this language (``portal.models.LocalText``): when the
    Japanese text changed after the version was saved, say the Japanese page is newer, with
    a button that shows this page in Japanese. Nothing otherwise."""
    request = context.get("request")
    if request is None or not any(getattr(text, "stale", False) for text in texts):
        return {"utility": None}
    return {"utility": request.utility, "next_path": request.get_full_path()}
