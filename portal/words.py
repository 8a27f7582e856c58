"""Words put together in Python, in the active language."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import pgettext


def listed(words: Iterable[str]) -> str:
    """「大文字、数字」 / "capital letters, numbers": items of a sentence's list."""
    return pgettext("between items of a list in a sentence", "、").join(str(w) for w in words)


def named(words: Iterable[str]) -> str:
    """「お名前・住所」 / "name, address": names of fields or things put side by side."""
    return pgettext("between names put side by side", "・").join(str(w) for w in words)
