"""Language of parts (WCAG 3.1.2): Japanese words on a page of another language, marked.

An English page still holds Japanese: the utility's word for the customer number and its
office's name (typed by staff), the slip's words the catalog keeps as a gloss (「Due date
(納期限)」), an address. A screen reader reads unmarked Japanese with an English voice, so
``mark`` wraps each run of Japanese in page text as ``<span lang="ja">…</span>``, wherever it
came from; a run already inside an element marked ``lang="ja"`` is left alone, and so are
attribute values and the elements that take no markup (``<title>``, ``<option>``,
``<textarea>``, ``<script>``, ``<style>``, ``<svg>``, ``<template>``).
"""

from __future__ import annotations

import re

# Kana, kanji, 々〆ヶ, the Japanese marks (、。「」〜) and full-width forms (＝, Ａ, １).
_J = "\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60"
_RUN = re.compile(rf"[{_J}](?:[ \u3000]*[{_J}])*")
_ANY = re.compile(rf"[{_J}]")
_TAG = re.compile(r"<!--.*?-->|<!?/?[a-zA-Z][^>]*>", re.DOTALL)
_NAME = re.compile(r"<(/?)([a-zA-Z][\w:-]*)")
_LANG = re.compile(r"""\slang\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE)
_VOID = frozenset("area base br col embed hr img input link meta source track wbr !doctype".split())
_PLAIN = frozenset({"title", "option", "textarea", "script", "style", "svg", "template"})
_END_TAGS = {name: re.compile(rf"</{name}\b", re.IGNORECASE) for name in _PLAIN}


def mark(html: str, page_lang: str) -> str:
    """``html`` with each run of Japanese in its text marked ``lang="ja"`` where the language
    around it (``page_lang`` or the nearest ``lang``) is not Japanese."""
    if not _ANY.search(html):
        return html
    out: list[str] = []
    stack: list[tuple[str, str]] = []  # (element, its language)
    at = 0
    while True:
        tag = _TAG.search(html, at)
        text = html[at : tag.start() if tag else len(html)]
        lang = stack[-1][1] if stack else page_lang
        if text and lang != "ja" and _ANY.search(text):
            text = _RUN.sub(lambda run: f'<span lang="ja">{run[0]}</span>', text)
        out.append(text)
        if tag is None:
            return "".join(out)
        out.append(tag[0])
        at = tag.end()
        name = _NAME.match(tag[0])
        if name is None:  # a comment
            continue
        closing, element = name[1], name[2].lower()
        if closing:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == element:
                    del stack[depth:]
                    break
        elif element in _PLAIN:
            close = _END_TAGS[element].search(html, at)  # its text as it is, to its end tag
            end = close.start() if close else len(html)
            out.append(html[at:end])
            at = end
        elif element not in _VOID and not tag[0].endswith("/>"):
            own = _LANG.search(tag[0]) if "lang" in tag[0] else None
            stack.append((element, own[1].lower().split("-")[0] if own else lang))
