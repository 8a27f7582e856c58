"""What import_customers, import_readings and import_payments share: arguments, progress, error report."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from contextlib import ExitStack

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from billing.importjobs import visible
from billing.imports import ENCODINGS, ImportResult

# More than this is noise on a terminal; the count of the rest is printed.
SHOWN_ERRORS = 100
OPEN_ERRORS = {
    errno.ENOENT: "ファイルがありません。",
    errno.EISDIR: "フォルダです。CSVファイルを指定してください。",
    errno.EACCES: "読み取る権限がありません。",
}


def _open_error(exc: OSError) -> str:
    return OPEN_ERRORS.get(exc.errno, f"開けません({exc.strerror})。")


class ImportCommand(BaseCommand):
    service: Callable[..., ImportResult]
    what: str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSVファイルのパス。「-」なら標準入力から読みます。")
        parser.add_argument(
            "--encoding",
            choices=ENCODINGS,
            default=None,
            help="文字コード(既定: BOMがあれば utf-8-sig、なければ utf-8)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="検査と件数の確認だけを行い、書き込みません。"
        )

    def service_options(self, options: dict) -> dict:
        """What this command passes on to its service besides the file and encoding."""
        return {}

    def handle(self, *args, **options) -> None:
        with ExitStack() as stack:
            if options["path"] == "-":
                stream = sys.stdin.buffer
            else:
                try:
                    stream = stack.enter_context(open(options["path"], "rb"))  # noqa: SIM115
                except OSError as exc:
                    raise CommandError(f"{options['path']}: {_open_error(exc)}") from exc
            bar = stack.enter_context(
                tqdm(
                    unit="行",
                    unit_scale=True,
                    desc=self.what,
                    file=sys.stderr,
                    disable=options["verbosity"] == 0 or not sys.stderr.isatty(),
                )
            )
            result = type(self).service(
                stream,
                encoding=options["encoding"],
                dry_run=options["dry_run"],
                **self.service_options(options),
                progress=bar.update,
                # The bar stands still while the database checks and writes: say so.
                writing=lambda: bar.set_description_str(f"{self.what}(照合・書き込み中)"),
                max_errors=SHOWN_ERRORS,
            )
        if not result.ok:
            for error in result.errors:  # what a file holds, never as terminal controls
                self.stderr.write(visible(str(error)))
            if result.more_errors:
                self.stderr.write(f"…ほか {result.more_errors} 件")
            raise CommandError(
                f"{result.error_count} 件の問題があるため、何も書き込みませんでした。"
            )
        if options["verbosity"] == 1:
            for warning in result.warnings:  # -v 2 lists them with the details
                self.stderr.write(visible(warning))
        if options["verbosity"] >= 2:
            for detail in result.details():
                self.stdout.write(visible(detail))
        if options["verbosity"] >= 1:
            self.stdout.write(result.summary())
        if not result.dry_run:
            self.after_import(options)

    def after_import(self, options: dict) -> None:
        """What follows a clean import that wrote (the readings' mails)."""
