"""THE rule for a row of a CIS export: what a valid reading and a valid customer are.

``parse_reading`` checks each field of a reading alone; ``check_reading`` what ties them
together, and ``bad_reading_sql`` the same in SQL, for a million staged rows in one pass (a
property test holds the two to the same verdicts on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple, NewType

from django.utils.translation import gettext as _

from portal import normalize

from ..integrity import READ_ON_DAYS, date_problems, max_period_days
from ..models import METER_DIAMETERS_MM
from .csvfile import Block, Record, RowError

READING_COLUMNS = tuple(
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total".split(",")
)
# Names the stored period a corrected row replaces (see readings.py).
READING_OPTIONAL = ("replaces_period_end",)
NUMBERS = READING_COLUMNS[5:]
CUSTOMER_COLUMNS = tuple(
    "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,"
    "meter_number".split(",")
)
MAX_INTEGER = 2_147_483_647  # PositiveIntegerField is a 4-byte integer on PostgreSQL
DATES_CACHED = 10_000  # distinct date strings parsed once (a CIS export repeats a few)
MAX_LENGTHS = {"name": 100, "name_kana": 100, "address": 256, "building": 256, "meter_number": 20}
_KANA = re.compile(r"[\u30a1-\u30ff\uff1d ]*")  # normalize.kana_name: ゠ is ＝
_SPACES = re.compile(r"\s+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class UtilityRules:
    """What a row naming this utility is checked against."""

    id: int
    slug: str
    customer_number_digits: int
    billing_cycle_months: int = 1
    allowed: bool = True
    max_days: int = field(init=False)  # the longest period this utility may store
    # A row as a CIS export writes it for this utility, spelled out field by field, digits
    # taken possessively ({1,9}+): the re module matches that twice as fast as repeated groups.
    plain: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_days", max_period_days(self.billing_cycle_months))
        number, date = f"[0-9]{{{self.customer_number_digits}}}", _ISO_DATE.pattern
        fields = (re.escape(self.slug), number, *[date] * 3, *["[0-9]{1,9}+"] * len(NUMBERS))
        object.__setattr__(self, "plain", ",".join(fields))


# A date checked to be a real one from 1900 to 2099, kept as the file wrote it: YYYY-MM-DD.
IsoDate = NewType("IsoDate", str)


# The checked rows, a field for each column; max_days is the utility's longest period.
Reading = NamedTuple(
    "Reading",
    [("line", int), ("utility_id", int), ("customer_number", str)]
    + [(name, IsoDate) for name in READING_COLUMNS[2:5]]
    + [(name, int) for name in NUMBERS]
    + [("max_days", int), ("replaces_period_end", IsoDate | None)],
)
CustomerRow = NamedTuple(
    "CustomerRow",
    [("line", int), ("utility_id", int)]
    + [(name, int if name == "meter_diameter_mm" else str) for name in CUSTOMER_COLUMNS[1:]],
)


def plain_block(utilities: Mapping[str, UtilityRules]) -> re.Pattern[bytes] | None:
    """What a block whose every line is an allowed utility's plain row matches."""
    plain = "|".join(rules.plain for rules in utilities.values() if rules.allowed)
    return re.compile(rf"(?:(?:{plain})\r?(?:\n|\Z))+".encode()) if plain else None


class PlainRows(NamedTuple):
    """A plain block of one utility's rows: its lines less the utility, numbered from ``first``."""

    first: int
    lines: list[str]
    rules: UtilityRules


def plain_lines(block: Block, utilities: Mapping[str, UtilityRules], dates) -> PlainRows | None:
    """A plain block's rows, or None to read them one by one (a date no real one, two utilities)."""
    slug = block.text.partition(",")[0]
    prefix, rules = slug + ",", utilities[slug]
    text = ("\n" + block.text).replace("\n" + prefix, "\n")[1:]
    lines = text.splitlines()
    if len(text) != len(block.text) - len(prefix) * len(lines):  # a line of another utility
        return None
    at = rules.customer_number_digits + 1  # the pattern puts the dates there
    spans = ",".join(set(map(itemgetter(slice(at, at + 32)), lines)))  # YYYY-MM-DD x 3
    for value in set(spans.split(",")).difference(dates):
        if _date(block.first, "period_end", value, dates, []) is None:
            return None
    return PlainRows(block.first, lines, rules)


def parse_reading(
    record: Record, utilities: Mapping[str, UtilityRules], dates: dict[str, IsoDate]
) -> Reading | list[RowError]:
    """Read one record's fields, or say what is wrong with each; ``dates``: those found right."""
    line, errors = record.line, []
    slug, number, *fields = record.fields
    rules = _utility(line, slug, utilities, errors)
    number = _customer_number(line, number, rules, errors)
    start, end, read_on = (
        _date(line, name, value, dates, errors)
        for name, value in zip(READING_COLUMNS[2:5], fields[:3], strict=True)
    )
    replaces = fields[-1] and _date(line, "replaces_period_end", fields[-1], dates, errors) or None
    values = [
        _integer(line, name, value, errors)
        for name, value in zip(NUMBERS, fields[3:-1], strict=True)
    ]
    if errors:
        return errors
    return Reading(line, rules.id, number, start, end, read_on, *values, rules.max_days, replaces)


def check_reading(r: Reading, today: datetime.date) -> list[RowError]:
    """What is wrong with a reading whose fields are each right (``bad_reading_sql`` in Python)."""
    start, end, read_on = map(datetime.date.fromisoformat, r[3:6])  # start, end, read_on
    problems = date_problems(start, end, read_on, r.max_days)
    if read_on > today:  # one message for the field: the future, not also its distance
        problems = [p for p in problems if p[0] != "read_on"] + [("read_on", _("未来の日付です。"))]
    # Went round or replaced: at most what a register of the previous index's digits counts.
    most = r.current_index + 10 ** len(str(r.previous_index)) - r.previous_index
    diff = r.current_index - r.previous_index
    if r.current_index >= r.previous_index and r.usage_m3 != diff:
        problems.append(("usage_m3", _("指針の差(%(diff)d)と一致しません。") % {"diff": diff}))
    elif r.current_index < r.previous_index and r.usage_m3 > most:
        message = _("指針が前回より小さい(メーター一巡・交換)ときの使用水量は%(most)dまでです。")
        problems.append(("usage_m3", message % {"most": most}))
    if r.total != (total := r.water_charge + r.sewer_charge):
        message = _("水道料金と下水道使用料の合計(%(sum)d)と一致しません。") % {"sum": total}
        problems.append(("total", message))
    if r.tax > r.total:
        problems.append(("tax", _("請求金額を超えています。")))
    return [RowError(r.line, column, message) for column, message in problems]


def bad_reading_sql(vendor: str) -> str:
    """``check_reading`` as a condition on a staged row; ``%(today)s`` is today's date."""
    if vendor == "postgresql":
        days, read_gap = "(period_end - period_start + 1)", "abs(read_on - period_end)"
    else:
        days = "(julianday(period_end) - julianday(period_start) + 1)"
        read_gap = "abs(julianday(read_on) - julianday(period_end))"
    return (
        f"({days} NOT BETWEEN 1 AND max_days OR {read_gap} > {READ_ON_DAYS} "
        "OR read_on > %(today)s "
        "OR (current_index >= previous_index AND usage_m3 <> current_index - previous_index) "
        "OR (current_index < previous_index AND usage_m3 > current_index - previous_index + CAST("
        "'1' || substr('0000000000', 1, length(CAST(previous_index AS text))) AS bigint)) "
        "OR total <> water_charge + sewer_charge OR tax > total)"
    )


def parse_customer(record: Record, utilities: Mapping[str, UtilityRules]) -> CustomerRow | list:
    """Check and normalise one customer record (full-width digits, kana, phone written 076(…))."""
    line, errors = record.line, []
    f = dict(zip(CUSTOMER_COLUMNS, record.fields, strict=False))
    rules = _utility(line, f["utility"], utilities, errors)
    number = _customer_number(line, f["customer_number"], rules, errors)
    name = _text(line, "name", f["name"], errors, required=True)
    kana = normalize.kana_name(f["name_kana"])
    if not _KANA.fullmatch(kana):
        errors.append(RowError(line, "name_kana", _("カタカナで入力してください。")))
    _length(line, "name_kana", kana, errors)
    address = _text(line, "address", f["address"], errors)
    building = _text(line, "building", f["building"], errors)
    phone = normalize.phone(f["phone"])
    if phone and not (phone.isascii() and phone.isdigit() and 10 <= len(phone) <= 11):
        errors.append(RowError(line, "phone", _("電話番号は数字10〜11桁で入力してください。")))
    size = _integer(line, "meter_diameter_mm", f["meter_diameter_mm"], errors)
    if size is not None and size not in METER_DIAMETERS_MM:
        sizes = "、".join(str(d) for d in METER_DIAMETERS_MM)
        message = _("口径は %(sizes)s のいずれかです。") % {"sizes": sizes}
        errors.append(RowError(line, "meter_diameter_mm", message))
    meter = _text(line, "meter_number", f["meter_number"], errors)
    if errors:
        return errors
    return CustomerRow(line, rules.id, number, name, kana, address, building, phone, size, meter)


def _utility(line: int, slug: str, utilities: Mapping[str, UtilityRules], errors: list):
    rules = utilities.get(slug) or utilities.get(slug := normalize.nfkc(slug))
    if rules is None:
        message = _("事業者「%(slug)s」は登録されていません。") % {"slug": slug}
        errors.append(RowError(line, "utility", message))
    elif not rules.allowed:
        message = _("事業者「%(slug)s」の行は取り込めません(担当外の事業者です)。") % {"slug": slug}
        errors.append(RowError(line, "utility", message))
    return rules


def _customer_number(line: int, value: str, rules: UtilityRules | None, errors: list) -> str:
    number = value if value.isdigit() and value.isascii() else normalize.digits(value)
    if not (number.isascii() and number.isdigit()):
        errors.append(RowError(line, "customer_number", _("数字で入力してください。")))
    elif rules is not None and len(number) != rules.customer_number_digits:
        message = _("%(digits)d桁の数字で入力してください(%(got)d桁です)。")
        digits = {"digits": rules.customer_number_digits, "got": len(number)}
        errors.append(RowError(line, "customer_number", message % digits))
    return number


def _date(line: int, column: str, value: str, dates: dict, errors: list) -> IsoDate | None:
    if value in dates:
        return dates[value]
    iso = value if _ISO_DATE.fullmatch(value) else normalize.date(value)  # ２０２６－０８－２６
    try:
        parsed = datetime.date.fromisoformat(iso) if _ISO_DATE.fullmatch(iso) else None
    except ValueError:  # shaped YYYY-MM-DD, but 2026-02-30
        errors.append(RowError(line, column, _("存在しない日付です。")))
        return None
    if parsed is None:
        errors.append(RowError(line, column, _("日付は YYYY-MM-DD で入力してください。")))
        return None
    if not 1900 <= parsed.year <= 2099:
        errors.append(RowError(line, column, _("1900〜2099年の日付で入力してください。")))
        return None
    if len(dates) < DATES_CACHED:
        dates[value] = IsoDate(iso)
    return IsoDate(iso)


def _integer(line: int, column: str, value: str, errors: list) -> int | None:
    if not (value.isdigit() and value.isascii()):
        value = normalize.nfkc(value)
    if value.startswith("-") and value[1:].isdigit():
        errors.append(RowError(line, column, _("負の数は指定できません。")))
    elif not (value.isascii() and value.isdigit()):
        errors.append(RowError(line, column, _("整数で入力してください。")))
    elif len(value.lstrip("0")) > 10 or int(value) > MAX_INTEGER:  # 0…01 is 1
        errors.append(RowError(line, column, _("値が大きすぎます。")))
    else:
        return int(value)
    return None


def _text(line: int, column: str, value: str, errors: list, required: bool = False) -> str:
    text = normalize.nfkc(value)
    if required and not text:
        errors.append(RowError(line, column, _("入力してください。")))
    _length(line, column, text, errors)
    return text


def _length(line: int, column: str, text: str, errors: list) -> None:
    limit = MAX_LENGTHS[column]
    if len(text) > limit:
        message = _("%(limit)d文字以内で入力してください。") % {"limit": limit}
        errors.append(RowError(line, column, message))
