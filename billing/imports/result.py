"""What an import tells its caller: counts, the first errors, the flagged lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from portal.models import Utility

from ..models import MeterReading
from .csvfile import RowError
from .rows import UtilityRules

MAX_ERRORS = 200
Flag = MeterReading.Flag


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    flagged: int = 0
    flagged_lines: list[int] = field(default_factory=list)  # the first ``max_errors``
    line_flags: dict[int, str] = field(default_factory=dict)  # their flags
    # Stored readings (not in the file) the import flagged: (customer number, start, end, flag).
    flagged_stored: list[tuple] = field(default_factory=list)  # the first ``max_errors``
    replaced: int = 0  # stored periods a correction deleted
    # The first ``max_errors`` of them: (line replacing it, customer number, start, end).
    replaced_periods: list[tuple] = field(default_factory=list)
    bills_moved: int = 0  # stored bills moved onto their corrected period
    # The first ``max_errors``: (line, customer number, start, end, new start, new end).
    moved_bills: list[tuple] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)  # the first ``max_errors``, by line
    # What is written but worth a look (``line N: column: …``), the first ``max_errors``.
    warnings: list[str] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False
    max_errors: int = MAX_ERRORS  # how many errors, flagged lines, ... are kept to be listed
    flags: bool = True  # whether the import flags rows (要確認): readings do, bills do not
    progress: Callable[[int], None] | None = field(default=None, repr=False)  # rows read
    writing: Callable[[], None] | None = field(default=None, repr=False)  # when read (once)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def more_errors(self) -> int:
        return self.error_count - len(self.errors)

    def summary(self) -> str:
        """Return the one summary line: rows, inserted, updated, unchanged, flagged."""
        text = _(
            "%(rows)d 行: 追加 %(inserted)d 件、更新 %(updated)d 件、変更なし %(unchanged)d 件"
        ) % vars(self)
        if self.flags:
            text += _("、要確認 %(flagged)d 件") % vars(self)
        if self.replaced:
            text += _("、置換で削除 %(replaced)d 件") % vars(self)
        if self.bills_moved:
            text += _("、訂正後の期間へ移した請求 %(bills_moved)d 件") % vars(self)
        return _("[検査のみ・書き込みなし] ") + text if self.dry_run else text

    def details(self) -> list[str]:
        """What ``-v 2`` and the admin list besides the summary."""
        lines = {flag: [str(n) for n, f in self.line_flags.items() if f == flag] for flag in Flag}
        flagged = _("要確認(%(flag)s)の行: %(lines)s")
        stored = _("要確認(%(flag)s): %(number)s %(start)s〜%(end)s(保存済み)")
        replaced = _("置換で削除: %(number)s %(start)s〜%(end)s(%(line)d行目)")
        moved = _(
            "請求を移動: %(number)s %(start)s〜%(end)s → %(new_start)s〜%(new_end)s(%(line)d行目)"
        )
        return [
            *self.warnings,
            *(flagged % {"flag": f.label, "lines": ", ".join(n)} for f, n in lines.items() if n),
            *(
                stored % _named(row, "number start end", flag=Flag(row[3]).label)
                for row in self.flagged_stored
            ),
            *(replaced % _named(row) for row in self.replaced_periods),
            *(moved % _named(row) for row in self.moved_bills),
        ]

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        self.errors.append(error)
        if len(self.errors) > 2 * self.max_errors:
            self.keep_first()

    def keep_first(self) -> None:
        """Keep the first ``max_errors`` errors by line (the count stays)."""
        self.errors.sort()
        del self.errors[self.max_errors :]

    def read(self, rows: int, staged: bool = True) -> None:
        self.rows += rows if staged else 0
        if self.progress is not None and rows:
            self.progress(rows)


def _named(row: tuple, names: str = "line number start end new_start new_end", **more) -> dict:
    return dict(zip(names.split(), row, strict=False), **more)


def utility_rules(only: Utility | None) -> dict[str, UtilityRules]:
    """The rules of every utility by slug; only ``only``'s rows are allowed if it is given."""
    fields = ("pk", "slug", "customer_number_digits", "billing_cycle_months")
    return {
        slug: UtilityRules(pk, slug, digits, cycle, allowed=only is None or pk == only.pk)
        for pk, slug, digits, cycle in Utility.objects.values_list(*fields)
    }


def unknown_customer() -> str:
    return _("このお客様番号の契約がありません。先に契約を取り込んでください。")
