"""Text helpers for every page."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def phrase(value: str) -> SafeString:
    """Keep a name in one piece where a heading wraps: 「金沢市上下水道ポータルサイト|利用規約」.

    The browser's phrase finder (``word-break: auto-phrase``) sees a utility's name and the
    words after it as one phrase and, when that is wider than the line, breaks it anywhere
    (「…サイト利|用規約」); as one box, the name moves whole and breaks inside only when it is
    wider than the line itself.
    """
    return format_html('<span class="phrase">{}</span>', value)


@register.filter
def live_regions(messages) -> list[tuple[str, list]]:
    """Split Django messages into the live regions that announce them: errors at once
    (``alert``), every other level politely (``status``); an empty region is left out."""
    errors, others = [], []
    for message in messages:
        (errors if message.level_tag == "error" else others).append(message)
    return [(role, listed) for role, listed in (("alert", errors), ("status", others)) if listed]
