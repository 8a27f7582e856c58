"""The layout check (tests/e2e/layout.py) catches what it promises to, on a page made to fail."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from .layout import layout_problems

BROKEN = """<!DOCTYPE html><html lang="ja"><body style="margin:0">
<p style="width:5em;font-size:16px;line-break:anywhere">あいうえお。かきくけこ、さしすせそ」</p>
</body></html>"""
KEPT = BROKEN.replace("line-break:anywhere", "line-break:strict")


@pytest.mark.parametrize(("html", "caught"), [(BROKEN, True), (KEPT, False)])
def test_a_line_starting_with_closing_punctuation_is_caught(page: Page, html, caught):
    page.set_content(html)
    problems = [p for p in layout_problems(page) if "a line starts with" in p]
    assert bool(problems) is caught, problems
