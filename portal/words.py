"""Words put together in Python, in the active language."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import get_language, gettext, pgettext


def gap() -> str:
    """The space a language puts between words, sentences and a bracket after a word: 「」 in
    Japanese (「25日(31日間)」, 「8m³です。前年…」), " " in English ("25 Nov 2026 (31 days)",
    "is 8 m³. The same period…")."""
    language = get_language() or settings.LANGUAGE_CODE
    return "" if settings.PORTAL_HTML_LANG.get(language, language) == "ja" else " "


def sentences(*texts: str) -> str:
    """Sentences one after another, as the language writes them (``gap``)."""
    return gap().join(str(text) for text in texts if text)


def fields_in_a_sentence(words: Iterable[str]) -> str:
    """「お客様氏名カナ・電話番号」 / "name in katakana and phone number": names of fields
    as a sentence lists them (the words from ``pgettext("a field in a sentence", …)``)."""
    words = [str(w) for w in words]
    if len(words) < 2:
        return "".join(words)
    between = pgettext("between names put side by side", "・")
    last = pgettext("before the last of names in a sentence", "・")
    return between.join(words[:-1]) + last + words[-1]


def listed(words: Iterable[str]) -> str:
    """「大文字、数字」 / "capital letters, numbers": items of a sentence's list."""
    return pgettext("between items of a list in a sentence", "、").join(str(w) for w in words)


def named(words: Iterable[str]) -> str:
    """「お名前・住所」 / "name, address": names of fields or things put side by side."""
    return pgettext("between names put side by side", "・").join(str(w) for w in words)


def _required(label: str) -> str:
    return gettext("%(label)sを入力してください。") % {"label": label}


def _choose(label: str) -> str:
    return gettext("%(label)sを選んでください。") % {"label": label}


# 「メールアドレスを入力してください。」 in the language of the page that shows it: a form
# class built at import time would otherwise keep the words of the language active then.
required_message = lazy(_required, str)
choose_message = lazy(_choose, str)
