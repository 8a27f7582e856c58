"""Render a document's facts as an A4 PDF with ReportLab and the bundled IPAex Gothic font.

Pure: facts in (plain, already formatted Japanese text), bytes out; no database. The font is
the project's own copy (``billing/fonts/ipaexg.ttf``, IPA Font License v1.0 beside it), embedded
as a subset of the glyphs used, so a PDF shows the same on every reader and no OS font is
needed. ``invariant`` leaves out the creation time and random file id: the same facts give the
same bytes, which the tests rely on (the issued copies are stored anyway).
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

FONT_NAME = "IPAexGothic"
FONT_PATH = Path(__file__).resolve().parent / "fonts" / "ipaexg.ttf"
BODY_SIZE = 10.5
# Printed in place of a character the font lacks (𠮷, 髙 of some fonts, ...): the 〓 (ゲタ) that
# Japanese printing uses for a character it cannot set, explained under the document.
MISSING = "〓"
PRINTED = ("name", "address", "building")  # what the PDFs print of a contract
MISSING_NOTE = (
    "〓 は、この書類の書体にない文字の代わりに印字しています。"
    "正しい文字は、ポータルサイトの画面の表示でご確認ください。"
)
LINE = colors.HexColor("#4a5a6a")
SHADE = colors.HexColor("#e8eef4")


@functools.cache
def _font() -> str:
    """Register the font once a process (reading the 6 MB file takes ~0.2 s)."""
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH)))
    return FONT_NAME


@functools.cache
def _covered() -> frozenset[int]:
    """The code points the bundled font has a glyph for."""
    return frozenset(pdfmetrics.getFont(_font()).face.charToGlyph)


def unprintable(text: str) -> str:
    """Return the characters of ``text`` the PDFs cannot print (each once, in order)."""
    covered = _covered()
    return "".join(dict.fromkeys(c for c in text if ord(c) not in covered and not c.isspace()))


def unprintable_warnings(line: int | None, values: dict) -> list[str]:
    """「line N: name: …」 for each printed field with characters the PDFs print as 〓."""
    message = _(
        "「%(chars)s」はPDF(検針票・適格請求書など)の書体にないため、〓 と印字します"
        "(取り込みました。外字でなければ通常の字体に直してください)。"
    )
    where = "" if line is None else f"line {line}: {{}}: "
    found = ((name, unprintable(values.get(name) or "")) for name in PRINTED)
    return [where.format(name) + message % {"chars": chars} for name, chars in found if chars]


def _printable(text: str) -> str:
    missing = unprintable(text)
    return "".join(MISSING if c in missing else c for c in text) if missing else text


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _style(size: float = BODY_SIZE, **kwargs) -> ParagraphStyle:
    return ParagraphStyle(f"s{size}", fontName=_font(), fontSize=size, leading=size * 1.5, **kwargs)


def _text(value: str, size: float = BODY_SIZE, **kwargs) -> Paragraph:
    # Paragraph reads a mini-markup: the facts are plain text (names typed by people).
    escaped = _printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(escaped.replace("\n", "<br/>"), _style(size, **kwargs))


def _rows(rows: list[list[str]]) -> Table:
    """A two-column table of label and value (the HTML page's <dl>)."""
    table = Table(
        [[_text(label), _text(value)] for label, value in rows], colWidths=[45 * mm, 125 * mm]
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, LINE),
                ("BACKGROUND", (0, 0), (0, -1), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONT", (0, 0), (-1, -1), _font(), BODY_SIZE),
            ]
        )
    )
    return table


def _grid(columns: list[str], rows: list[list[str]]) -> Table:
    """A table with a header row; every column after the first holds figures (right-aligned)."""
    body = [[_text(row[0]), *(_text(cell, alignment=2) for cell in row[1:])] for row in rows]
    body.insert(0, [_text(columns[0]), *(_text(c, alignment=2) for c in columns[1:])])
    width = 170 * mm / len(columns)
    table = Table(body, colWidths=[width] * len(columns))
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, LINE),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONT", (0, 0), (-1, -1), _font(), BODY_SIZE),
            ]
        )
    )
    return table


def _story(facts: dict) -> list[Flowable]:
    story: list[Flowable] = [_text(facts["title"], 16, spaceAfter=4 * mm)]
    # Number and day of issue, top right, as on a paper invoice; the slip has neither.
    for line in facts.get("stamp", []):
        story.append(_text(line, alignment=2))
    story.append(_text(facts["issuer"], 12, spaceBefore=2 * mm, spaceAfter=4 * mm))
    story.append(_rows(facts["header"]))
    for section in facts["sections"]:
        story.append(_text(section["heading"], 12, spaceBefore=6 * mm, spaceAfter=2 * mm))
        if "rows" in section:
            story.append(_rows(section["rows"]))
        if "table" in section:
            story.append(_grid(section["table"]["columns"], section["table"]["rows"]))
        for note in section.get("notes", []):
            story.append(_text(note, 9, spaceBefore=1 * mm))
    for line in facts.get("footer", []):
        story.append(Spacer(1, 4 * mm))
        story.append(_text(line))
    if any(unprintable(text) for text in _strings(facts)):
        story.append(Spacer(1, 4 * mm))
        story.append(_text(MISSING_NOTE, 9))
    return story


def render(facts: dict) -> bytes:
    """Return the PDF of one document from its facts (see billing/documents.py for their shape)."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=facts["title"],
        author=facts["issuer"],
        lang="ja",
        invariant=1,
        # Not Helvetica: every font in the file is the embedded one.
        initialFontName=_font(),
        initialFontSize=BODY_SIZE,
    )
    document.build(_story(facts))
    return buffer.getvalue()
