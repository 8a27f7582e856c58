"""Read a CSV file in blocks into numbered records, whatever the file holds.

Memory stays that of one block: a line longer than ``RECORD_LIMIT`` is refused at once (a
stream with no newline is never held whole). A block whose every line the caller's ``plain``
pattern accepts is handed on whole, as a Block, to be stored without a step per row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO, NamedTuple

from django.utils.translation import gettext as _

ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
_QUOTED = re.compile(r'"(?:[^"]|"")*"?')  # a quoted part of a field, closed or not
BLOCK_SIZE = 1 << 20
RECORD_LIMIT = 64 * 1024


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


class Record(NamedTuple):
    """One row: its first line's number and its fields in the order of ``records``' columns."""

    line: int
    fields: tuple[str, ...]


class Block(NamedTuple):
    """Lines numbered from ``first`` that ``plain`` accepted: no quotes, so fields are split at
    commas (``missing``: the optional columns)."""

    first: int
    text: str
    missing: tuple[str, ...]

    def records(self) -> Iterator[Record]:
        for line, text in enumerate(self.text.splitlines(), start=self.first):
            yield Record(line, (*text.split(","), *self.missing))


@dataclass
class _State:
    errors: list[RowError] = field(default_factory=list)
    plain: re.Pattern[bytes] | None = None  # set once the header is read
    missing: tuple[str, ...] = ()
    blocks: list[Block] = field(default_factory=list)
    record_end: int = 0  # the line the last whole record ended on
    skipped: int = 0  # lines handed on in blocks, less the blank line left for each
    names: list[str] = field(default_factory=list)  # the header's, once read
    codec: str = "utf-8"
    recent: list[tuple[int, bytes]] = field(default_factory=list)  # the last 2 blocks read

    def too_long(self, line: int, raw: bytes = b"") -> Refused:
        """Refuse record ``line``, naming the field too long in ``raw`` (the record as far as it
        was read): the first over the csv module's limit, else the one it ends in."""
        text = _QUOTED.sub(lambda quoted: "_" * len(quoted[0]), raw.decode(self.codec, "replace"))
        lengths = [len(field) for field in text.split(",")]
        limit = csv.field_size_limit()
        index = next((i for i, n in enumerate(lengths) if n > limit), len(lengths) - 1)
        column = self.names[index] if line > 1 and raw and index < len(self.names) else "row"
        message = _("長すぎます(1行は %(kib)d KiB までです)。") % {"kib": RECORD_LIMIT // 1024}
        return Refused(RowError(line, column, message))

    def lines(self, first: int, last: int) -> bytes:
        """Lines ``first`` to ``last``, if the last blocks read row by row hold them."""
        start = self.recent[0][0] if self.recent else last + 1
        lines = b"".join(chunk for _, chunk in self.recent).split(b"\n")
        return b"\n".join(lines[first - start : last - start + 1]) if start <= first else b""


class Refused(Exception):
    """The file cannot be read on from here (its RowError); nothing of it is written."""


def _refuse_cr_only(line: int, text: bytes) -> None:
    """Lines ending in CR alone (old Mac style) would read as one line."""
    if b"\r" in text:  # line ``line`` without the CR of its CRLF
        message = _("改行がCRだけです。改行コードをLFかCRLFにして保存し直してください。")
        raise Refused(RowError(line, "row", message))


def records(
    stream: BinaryIO, columns: tuple[str, ...], optional=(), encoding=None, plain=None
) -> Iterator[Record | Block | RowError]:
    """Yield each record of the file, or a RowError for one that cannot be read. The header
    names the columns in any order (``optional`` may lack). ``encoding`` None is utf-8 with a
    BOM detected. If the header is ``columns`` in order, a block ``plain`` matches is a Block."""
    if encoding is not None and encoding not in ENCODINGS:
        raise ValueError(encoding)
    state = _State()
    reader = csv.reader(_lines(stream, encoding or "utf-8", state))
    try:
        try:
            header = next(reader, None)
        except csv.Error:
            raise state.too_long(1) from None
        names = _header(header, columns, optional, state.errors)
        yield from state.errors
        if names is None:
            return
        state.errors.clear()
        state.record_end, state.names = reader.line_num, names
        if names == list(columns):
            state.plain, state.missing = plain, ("",) * len(optional)
        yield from _rows(reader, names, (*columns, *optional), state)
    except Refused as refused:
        yield from state.errors
        yield refused.args[0]


def _header(header, columns, optional, errors: list[RowError]) -> list[str] | None:
    if errors:  # the header does not decode
        return None
    names = [name.strip() for name in header or []]
    if not any(names):
        errors.append(RowError(1, "header", _("ヘッダー行がありません。")))
        return None
    for i, name in enumerate(names):
        if not any(names[i:]):  # empty cells after the last column (a spreadsheet's): none
            break
        if name not in (*columns, *optional):
            message = _("不明な列「%(name)s」があります。") % {"name": name}
            errors.append(RowError(1, name or "header", message))
        elif name in names[:i]:
            errors.append(RowError(1, name, _("列「%(name)s」が2回あります。") % {"name": name}))
    for name in columns:
        if name not in names:
            errors.append(RowError(1, name, _("列「%(name)s」がありません。") % {"name": name}))
    return None if errors else names


def _rows(reader, names: list[str], wanted: tuple, state: _State):
    width = len(names)
    # An optional column the header lacks is read from a blank appended to each row.
    pick = itemgetter(*(names.index(n) if n in names else width for n in wanted))
    while True:
        try:
            fields = next(reader, None)
        except csv.Error:  # a field over the csv module's limit, a quote in the wrong place
            line = reader.line_num + state.skipped
            _refuse_cr_only(line, state.lines(line, line).removesuffix(b"\r"))  # lines end in CR?
            first = state.record_end + 1  # records() reports ``state.errors`` first
            raise state.too_long(first, state.lines(first, line)) from None
        line, state.record_end = state.record_end + 1, reader.line_num + state.skipped
        yield from state.errors
        yield from state.blocks
        state.errors.clear()
        state.blocks.clear()
        if fields is None:
            return
        if not "".join(fields).strip():  # a blank line, or only empty cells: not a row
            continue
        if len(fields) == width:
            fields.append("")
            yield Record(line, pick(fields))
        else:
            message = _("列の数が%(got)d個です(%(want)d個必要です)。")
            yield RowError(line, "row", message % {"got": len(fields), "want": width})


def _lines(stream: BinaryIO, encoding: str, state: _State) -> Iterator[str]:
    """The file's lines, decoded, one block at a time; a line that does not decode is blank,
    and so is a plain block (put in ``state.blocks``)."""
    codec = state.codec = "cp932" if encoding == "cp932" else "utf-8"
    number, pending = 0, b""
    while True:
        block = stream.read(BLOCK_SIZE)
        if number == 0 and not pending and encoding != "cp932":  # the first block read
            block = block.removeprefix(codecs.BOM_UTF8)
        data = pending + block
        cut = data.rfind(b"\n") + 1 if block else len(data)
        chunk, pending = data[:cut], data[cut:]
        if number == 0 and (chunk or len(pending) > RECORD_LIMIT):
            _refuse_cr_only(1, (chunk or pending).partition(b"\n")[0].rstrip(b"\r"))
            header = (chunk or pending).partition(b"\n")[0].decode(codec, "replace")
            state.names = [name.strip() for name in next(csv.reader([header]), [])]
        if len(pending) > RECORD_LIMIT:  # the line after the chunk's, which ends in "\n"
            raise state.too_long(number + chunk.count(b"\n") + 1, pending[: RECORD_LIMIT + 1])
        if not chunk:
            if not block:
                return
            continue
        first = number == 0  # the first chunk is checked before its header is read
        if first:
            _check_line_lengths(chunk, number, state)
        # The header on its own, so that the rows after it may be taken whole.
        head = chunk.find(b"\n") + 1 if first else 0
        for piece in (chunk[:head], chunk[head:]) if 0 < head < len(chunk) else (chunk,):
            lines = piece.count(b"\n") + (0 if piece.endswith(b"\n") else 1)
            # Whole only between records: a quoted field may run on from the block before.
            if state.plain and state.record_end == number and state.plain.fullmatch(piece):
                state.blocks.append(Block(number + 1, piece.decode("ascii"), state.missing))
                state.skipped += lines - 1
                state.recent = []  # no record runs on across a block taken whole
                yield "\n"
            else:
                if not first:  # a plain row is never too long
                    _check_line_lengths(piece, number, state)
                state.recent = [*state.recent[-1:], (number + 1, piece)]
                yield from _decoded(piece, codec, number, state.errors)
            number += lines


def _check_line_lengths(chunk: bytes, number: int, state: _State) -> None:
    lines = chunk.split(b"\n") if len(chunk) > RECORD_LIMIT else [b""]
    if max(map(len, lines)) > RECORD_LIMIT:
        index = next(i for i, line in enumerate(lines) if len(line) > RECORD_LIMIT)
        raise state.too_long(number + index + 1, lines[index][: RECORD_LIMIT + 1])


def _decoded(chunk: bytes, codec: str, number: int, errors: list[RowError]) -> Iterator[str]:
    try:
        yield from io.StringIO(chunk.decode(codec), newline="\n")
        return
    except UnicodeDecodeError:  # raised by decode, before any line is yielded
        pass
    for line, raw in enumerate(io.BytesIO(chunk), start=number + 1):
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            message = _(
                "%(encoding)s として読めないバイト(0x%(byte)s)があります。"
                "文字コード(utf-8, utf-8-sig, cp932)の指定を確かめてください。"
            ) % {"encoding": codec, "byte": raw[exc.start : exc.start + 1].hex()}
            errors.append(RowError(line, "encoding", message))
            yield "\n"  # keeps the csv reader's line count in step
