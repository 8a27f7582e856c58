"""Stream a CIS export (CSV) into validated rows or ``line N: column: message`` errors.

Pure functions: no database. The caller passes what the rows are checked against (the
utilities, today's date). Checks that need the database (customer numbers that exist, the
same key twice in one file) run in ``billing.services`` on the staged rows, so memory stays
flat whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import BinaryIO, NamedTuple

from django.utils.translation import gettext as _

from portal import normalize
from portal.normalize import digits, katakana, nfkc

from .models import METER_DIAMETERS_MM

CUSTOMER_COLUMNS = (
    "utility",
    "customer_number",
    "name",
    "name_kana",
    "address",
    "building",
    "phone",
    "meter_diameter_mm",
    "meter_number",
)
READING_COLUMNS = (
    "utility",
    "customer_number",
    "period_start",
    "period_end",
    "read_on",
    "previous_index",
    "current_index",
    "usage_m3",
    "water_charge",
    "sewer_charge",
    "tax",
    "total",
)
ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
# PositiveIntegerField is a 4-byte integer on PostgreSQL.
MAX_INTEGER = 2_147_483_647
# A meter is read at the end of its period, or within a month after it (holidays, snow).
READ_ON_GRACE = datetime.timedelta(days=31)
# Customer fields' max_length in billing.models (a longer value would fail in the database).
MAX_LENGTHS = {"name": 100, "name_kana": 100, "address": 256, "building": 256, "meter_number": 20}
CHUNK_SIZE = 1 << 20
# Rows an importer holds at a time between reading and writing.
BATCH_SIZE = 5000
_KANA = re.compile(r"[\u30a0-\u30ff ]*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


@dataclass(frozen=True)
class UtilityRules:
    """What a row naming this utility is checked against."""

    id: int
    customer_number_digits: int
    allowed: bool = True


class CustomerRow(NamedTuple):
    line: int
    utility_id: int
    customer_number: str
    name: str
    name_kana: str
    address: str
    building: str
    phone: str
    meter_diameter_mm: int
    meter_number: str


class ReadingRow(NamedTuple):
    line: int
    utility_id: int
    customer_number: str
    period_start: str  # ISO YYYY-MM-DD, checked
    period_end: str
    read_on: str
    previous_index: int
    current_index: int
    usage_m3: int
    water_charge: int
    sewer_charge: int
    tax: int
    total: int
    flagged: bool  # the meter rolled over or was replaced: usage_m3 stands as given


def read_records(
    stream: BinaryIO, columns: tuple[str, ...], encoding: str | None = None
) -> Iterator[tuple[int, Sequence[str]] | RowError]:
    """Yield (line number, fields in ``columns`` order) for each record, or a RowError.

    ``encoding`` is utf-8, utf-8-sig or cp932; None means utf-8, or utf-8-sig if the file
    starts with a byte-order mark. A line that does not decode is reported with its number.
    """
    if encoding is not None and encoding not in ENCODINGS:
        raise ValueError(encoding)
    decode_errors: list[RowError] = []
    reader = csv.reader(chain.from_iterable(_decoded_chunks(stream, encoding, decode_errors)))
    header = next(reader, None)
    if decode_errors and decode_errors[0].line == 1:
        yield decode_errors[0]
        return
    if header is None:
        yield RowError(1, "header", _("ヘッダー行がありません。"))
        return
    order, header_errors = _column_order(header, columns)
    if header_errors:
        yield from header_errors
        return
    pick = itemgetter(*order) if order != sorted(order) else None
    yield from _records(reader, len(header), pick, decode_errors, 0)


def _records(
    reader, width: int, pick, decode_errors: list[RowError], lines_before: int
) -> Iterator[tuple[int, Sequence[str]] | RowError]:
    last = reader.line_num
    for fields in reader:
        line, last = lines_before + last + 1, reader.line_num
        if decode_errors:
            yield from decode_errors
            decode_errors.clear()
        if len(fields) != width:
            if fields:  # a blank line (or an undecodable one, reported above) is not a row
                message = _("列の数が%(got)d個です(%(want)d個必要です)。") % {
                    "got": len(fields),
                    "want": width,
                }
                yield RowError(line, "row", message)
            continue
        yield line, pick(fields) if pick else fields
    yield from decode_errors


def _decoded_chunks(
    stream: BinaryIO,
    encoding: str | None,
    errors: list[RowError],
    lines_before: int = 0,
    first: bool = True,
) -> Iterator[Iterable[str]]:
    # Decoded a chunk of lines at a time (fast); only a chunk that fails is decoded line by
    # line to find the line. The BOM is dropped by hand so the C utf-8 codec does the work.
    codec = "cp932" if encoding == "cp932" else "utf-8"
    pending = b""
    while True:
        block = stream.read(CHUNK_SIZE)
        if first and block.startswith(codecs.BOM_UTF8) and encoding != "cp932":
            block = block[len(codecs.BOM_UTF8) :]
        first = False
        if block:
            head, newline, pending = (pending + block).rpartition(b"\n")
            if not newline:
                continue  # no complete line yet
            chunk = head + newline
        elif pending:
            chunk, pending = pending, b""
        else:
            return
        try:
            text = chunk.decode(codec)
        except UnicodeDecodeError:
            yield _decode_by_line(chunk, codec, lines_before, errors)
        else:
            yield io.StringIO(text, newline="\n")
        lines_before += chunk.count(b"\n")


def _decode_by_line(
    chunk: bytes, codec: str, lines_before: int, errors: list[RowError]
) -> Iterator[str]:
    for number, raw in enumerate(io.BytesIO(chunk), start=lines_before + 1):
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            message = _(
                "%(encoding)s として読めないバイト(0x%(byte)s)があります。"
                "文字コード(utf-8, utf-8-sig, cp932)の指定を確かめてください。"
            ) % {"encoding": codec, "byte": raw[exc.start : exc.start + 1].hex()}
            errors.append(RowError(number, "encoding", message))
            yield "\n"  # keeps the csv reader's line count in step


def _column_order(header: list[str], columns: tuple[str, ...]) -> tuple[list[int], list[RowError]]:
    names = [name.strip().lstrip("\ufeff") for name in header]
    errors = [
        RowError(1, name or "header", _("不明な列「%(name)s」があります。") % {"name": name})
        for name in names
        if name not in columns
    ]
    errors += [
        RowError(1, name, _("列「%(name)s」がありません。") % {"name": name})
        for name in columns
        if name not in names
    ]
    errors += [
        RowError(1, name, _("列「%(name)s」が2回あります。") % {"name": name})
        for i, name in enumerate(names)
        if name in columns and name in names[:i]
    ]
    return [names.index(name) for name in columns] if not errors else [], errors


def validate_customers(
    records: Iterable[tuple[int, Sequence[str]] | RowError], utilities: Mapping[str, UtilityRules]
) -> Iterator[CustomerRow | RowError]:
    """Check and normalise customer records; yield a CustomerRow or the record's errors."""
    for record in records:
        if isinstance(record, RowError):
            yield record
            continue
        line, (slug, number, name, kana, address, building, phone, diameter, meter) = record
        errors: list[RowError] = []
        rules = _utility(line, slug, utilities, errors)
        number = _customer_number(line, number, rules, errors)
        name = _text(line, "name", name, errors, required=True)
        kana = _SPACES.sub(" ", katakana(kana))
        if not _KANA.fullmatch(kana):
            errors.append(RowError(line, "name_kana", _("カタカナで入力してください。")))
        _length(line, "name_kana", kana, errors)
        address = _text(line, "address", address, errors)
        building = _text(line, "building", building, errors)
        phone = normalize.phone(phone)  # 076(220)2111 is a common way to write it
        if phone and not (phone.isascii() and phone.isdigit() and 10 <= len(phone) <= 11):
            errors.append(RowError(line, "phone", _("電話番号は数字10〜11桁で入力してください。")))
        size = _integer(line, "meter_diameter_mm", diameter, errors)
        if size is not None and size not in METER_DIAMETERS_MM:
            sizes = "、".join(str(d) for d in METER_DIAMETERS_MM)
            errors.append(
                RowError(
                    line,
                    "meter_diameter_mm",
                    _("口径は %(sizes)s のいずれかです。") % {"sizes": sizes},
                )
            )
        meter = _text(line, "meter_number", meter, errors)
        if errors:
            yield from errors
        else:
            yield CustomerRow(
                line, rules.id, number, name, kana, address, building, phone, size, meter
            )


def validate_readings(
    records: Iterable[tuple[int, Sequence[str]] | RowError],
    utilities: Mapping[str, UtilityRules],
    today: datetime.date,
) -> Iterator[ReadingRow | RowError]:
    """Check reading records; yield a ReadingRow or the record's errors.

    This runs for every row of files with millions of rows. A row passes straight through
    only if it is plainly valid (ASCII digits, canonical dates, sums that add up); anything
    else goes through ``check_reading``, which has the final word and says what is wrong.
    """
    grace = READ_ON_GRACE
    # CIS exports repeat the same few period dates on every row: parse each string once.
    dates: dict[str, datetime.date] = {}

    def parse_date(value: str) -> datetime.date:
        parsed = datetime.date.fromisoformat(value)
        if parsed.isoformat() != value:
            raise ValueError(value)  # YYYY-MM-DD only
        if len(dates) < 10_000:
            dates[value] = parsed
        return parsed

    for record in records:
        if record.__class__ is RowError:
            yield record  # type: ignore[misc]
            continue
        line, fields = record  # type: ignore[misc]
        slug, number, ps, pe, ro, a, b, c, d, e, f, g = fields
        rules = utilities.get(slug)
        try:
            numbers = a + b + c + d + e + f + g
            if not (
                rules
                and rules.allowed
                and len(number) == rules.customer_number_digits
                and number.isdigit()
                and number.isascii()
                and numbers.isdigit()
                and numbers.isascii()
            ):
                raise ValueError
            start = dates.get(ps) or parse_date(ps)
            end = dates.get(pe) or parse_date(pe)
            read_on = dates.get(ro) or parse_date(ro)
            prev, cur, usage, water, sewer, tax, total = map(int, (a, b, c, d, e, f, g))
            if (
                max(prev, cur, usage, water, sewer, tax, total) > MAX_INTEGER
                or end < start
                or not start <= read_on <= end + grace
                or read_on > today
                or total != water + sewer
                or tax > total
                or (cur >= prev and usage != cur - prev)
            ):
                raise ValueError
        except ValueError:
            yield from check_reading(line, fields, utilities, today)
            continue
        yield tuple.__new__(
            ReadingRow,
            (
                line,
                rules.id,
                number,
                ps,
                pe,
                ro,
                prev,
                cur,
                usage,
                water,
                sewer,
                tax,
                total,
                cur < prev,
            ),
        )


def check_reading(
    line: int, fields: Sequence[str], utilities: Mapping[str, UtilityRules], today: datetime.date
) -> Iterator[ReadingRow | RowError]:
    errors: list[RowError] = []
    rules = _utility(line, fields[0], utilities, errors)
    number = _customer_number(line, fields[1], rules, errors)
    start = _date(line, "period_start", fields[2], errors)
    end = _date(line, "period_end", fields[3], errors)
    read_on = _date(line, "read_on", fields[4], errors)
    values = []
    for column, value in zip(READING_COLUMNS[5:], fields[5:], strict=True):
        if value.isdigit() and value.isascii() and len(value) < 10:
            values.append(int(value))
        else:
            values.append(_integer(line, column, value, errors))
    previous, current, usage, water, sewer, tax, total = values
    if start and end and end < start:
        errors.append(RowError(line, "period_end", _("使用期間(開始)より前の日付です。")))
    if start and end and read_on and start <= end and not start <= read_on <= end + READ_ON_GRACE:
        errors.append(
            RowError(line, "read_on", _("検針日は使用期間の開始から終了の31日後までの日付です。"))
        )
    if read_on and read_on > today:
        errors.append(RowError(line, "read_on", _("未来の日付です。")))
    flagged = False
    if previous is not None and current is not None and usage is not None:
        if current >= previous:
            if usage != current - previous:
                errors.append(
                    RowError(
                        line,
                        "usage_m3",
                        _("指針の差(%(diff)d)と一致しません。") % {"diff": current - previous},
                    )
                )
        else:
            flagged = True  # the meter rolled over or was replaced: keep usage_m3 as given
    if water is not None and sewer is not None and total is not None:
        if total != water + sewer:
            errors.append(
                RowError(
                    line,
                    "total",
                    _("水道料金と下水道使用料の合計(%(sum)d)と一致しません。")
                    % {"sum": water + sewer},
                )
            )
        if tax is not None and tax > total:
            errors.append(RowError(line, "tax", _("請求金額を超えています。")))
    if errors:
        yield from errors
    else:
        yield ReadingRow(line, rules.id, number, fields[2], fields[3], fields[4], *values, flagged)


def parse_customers(
    stream: Iterable[bytes], utilities: Mapping[str, UtilityRules], encoding: str | None = None
) -> Iterator[CustomerRow | RowError]:
    """Read and check a customers CSV: CustomerRow for good rows, RowError for each problem."""
    return validate_customers(read_records(stream, CUSTOMER_COLUMNS, encoding), utilities)


def parse_readings(
    stream: Iterable[bytes],
    utilities: Mapping[str, UtilityRules],
    today: datetime.date,
    encoding: str | None = None,
) -> Iterator[ReadingRow | RowError]:
    """Read and check a readings CSV: ReadingRow for good rows, RowError for each problem."""
    return validate_readings(read_records(stream, READING_COLUMNS, encoding), utilities, today)


@dataclass(frozen=True)
class Chunk:
    """Consecutive lines of a readings file that are plainly well formed, as the file's bytes.

    Every line has the columns in ``READING_COLUMNS`` order, a utility the import may write
    with a customer number of that utility's length, real calendar dates (1900 to 2099) and
    whole numbers of at most nine digits with no leading zero, so that two of them compare
    as numbers by length, then as text. What needs arithmetic, today's date or other rows
    (sums, date order, known customers, repeated keys) is left to the caller, which checks it
    in SQL and asks ``check_reading`` what is wrong with any row it flags.
    """

    first_line: int
    data: bytes
    rows: int


def parse_reading_chunks(
    stream: BinaryIO,
    utilities: Mapping[str, UtilityRules],
    today: datetime.date,
    encoding: str | None = None,
) -> Iterator[Chunk | ReadingRow | RowError]:
    """Read a readings CSV as Chunks of plainly well-formed lines, as long as it has them.

    A CIS export is machine-written, so almost every file is one Chunk after another, and no
    Python runs per row. From the first block that is not (quotes, full-width digits, a blank
    line, a bad date, another utility...) to the end of the file, rows are read and checked
    one by one as ``parse_readings`` does: ReadingRow or RowError, with the same line numbers.
    """
    if encoding is not None and encoding not in ENCODINGS:
        raise ValueError(encoding)
    head = stream.read(CHUNK_SIZE)
    body = (
        head[len(codecs.BOM_UTF8) :]
        if encoding != "cp932" and head.startswith(codecs.BOM_UTF8)
        else head
    )
    end = body.find(b"\n")
    pattern = _chunk_pattern(utilities, body[: end + 1]) if end >= 0 else None
    if pattern is None:
        yield from parse_readings(_Prefixed(head, stream), utilities, today, encoding)
        return
    pending, line = body[end + 1 :], 2
    while True:
        block = stream.read(CHUNK_SIZE)
        data = pending + block
        cut = data.rfind(b"\n") + 1 if block else len(data)
        if not cut:
            if not block:
                return
            pending = data
            continue
        chunk, pending = data[:cut], data[cut:]
        if not pattern.fullmatch(chunk):
            records = _records_after(_Prefixed(chunk + pending, stream), encoding, line - 1)
            yield from validate_readings(records, utilities, today)
            return
        rows = chunk.count(b"\n")
        yield Chunk(line, chunk, rows)
        line += rows


# A real date from 1900-01-01 to 2099-12-31 (2000 is a leap year, 1900 is not).
_DATE = (
    rb"(?>(?:19|20)\d\d-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    rb"|(?:0[13578]|1[02])-31)|(?:19(?:0[48]|[2468][048]|[13579][26])"
    rb"|20(?:[02468][048]|[13579][26]))-02-29)"
)
_SLUG = re.compile(r"[A-Za-z0-9_-]+")


def _chunk_pattern(utilities: Mapping[str, UtilityRules], header: bytes) -> re.Pattern | None:
    """The pattern a block of plainly well-formed lines matches whole, or None for no fast path."""
    newline = b"\r\n" if header.endswith(b"\r\n") else b"\n"
    if header[: -len(newline)] != ",".join(READING_COLUMNS).encode():
        return None
    keys = [
        rf"{slug},\d{{{rules.customer_number_digits}}}".encode()
        for slug, rules in utilities.items()
        if rules.allowed and _SLUG.fullmatch(slug)
    ]
    if not keys:
        return None
    line = rb"(?:%s),%s,%s,%s,%s%s" % (
        b"|".join(keys),
        _DATE,
        _DATE,
        _DATE,
        rb",".join([rb"(?:0|[1-9]\d{0,8})"] * 7),
        newline,
    )
    return re.compile(rb"(?:%s)*+" % line)


class _Prefixed:
    """A binary stream that first returns ``prefix``: bytes already read from ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix, self._stream = prefix, stream

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        return self._stream.read(size)


def _records_after(
    stream: _Prefixed, encoding: str | None, lines_before: int
) -> Iterator[tuple[int, Sequence[str]] | RowError]:
    """Records of a readings CSV from the middle on: its header is behind, ``lines_before`` lines."""
    decode_errors: list[RowError] = []
    chunks = _decoded_chunks(stream, encoding, decode_errors, lines_before, first=False)  # type: ignore[arg-type]
    reader = csv.reader(chain.from_iterable(chunks))
    return _records(reader, len(READING_COLUMNS), None, decode_errors, lines_before)


def _utility(
    line: int, slug: str, utilities: Mapping[str, UtilityRules], errors: list[RowError]
) -> UtilityRules:
    rules = utilities.get(slug)
    if rules is None:
        errors.append(
            RowError(
                line, "utility", _("事業者「%(slug)s」は登録されていません。") % {"slug": slug}
            )
        )
    elif not rules.allowed:
        errors.append(
            RowError(
                line,
                "utility",
                _("事業者「%(slug)s」の行は取り込めません(担当外の事業者です)。") % {"slug": slug},
            )
        )
    return rules  # type: ignore[return-value]  # only used when errors is empty


def _customer_number(
    line: int, value: str, rules: UtilityRules | None, errors: list[RowError]
) -> str:
    number = value if value.isdigit() and value.isascii() else digits(value)
    if not (number.isascii() and number.isdigit()):
        errors.append(RowError(line, "customer_number", _("数字で入力してください。")))
    elif rules is not None and len(number) != rules.customer_number_digits:
        errors.append(
            RowError(
                line,
                "customer_number",
                _("%(digits)d桁の数字で入力してください(%(got)d桁です)。")
                % {"digits": rules.customer_number_digits, "got": len(number)},
            )
        )
    return number


def _date(line: int, column: str, value: str, errors: list[RowError]) -> datetime.date | None:
    try:
        parsed = datetime.date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.isoformat() == value:  # YYYY-MM-DD only
        return parsed
    errors.append(RowError(line, column, _("日付は YYYY-MM-DD で入力してください。")))
    return None


def _integer(line: int, column: str, value: str, errors: list[RowError]) -> int | None:
    text = nfkc(value)
    if text.startswith("-") and text[1:].isdigit():
        errors.append(RowError(line, column, _("負の数は指定できません。")))
    elif not (text.isascii() and text.isdigit()):
        errors.append(RowError(line, column, _("整数で入力してください。")))
    elif int(text) > MAX_INTEGER:
        errors.append(RowError(line, column, _("値が大きすぎます。")))
    else:
        return int(text)
    return None


def _text(
    line: int, column: str, value: str, errors: list[RowError], required: bool = False
) -> str:
    text = nfkc(value)
    if required and not text:
        errors.append(RowError(line, column, _("入力してください。")))
    _length(line, column, text, errors)
    return text


def _length(line: int, column: str, text: str, errors: list[RowError]) -> None:
    limit = MAX_LENGTHS[column]
    if len(text) > limit:
        errors.append(
            RowError(line, column, _("%(limit)d文字以内で入力してください。") % {"limit": limit})
        )
