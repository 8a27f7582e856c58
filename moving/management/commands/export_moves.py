"""python manage.py export_moves --since YYYY-MM-DD: the CIS's file of 引越し applications."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.models import Utility

from ...export import export_csv, since_day, skipped_message
from ...models import MoveApplication


class Command(BaseCommand):
    help = (
        "使用開始・使用中止のお申し込みを、CISが読むCSVに書き出します(既定は本日受付分、"
        "PORTAL_MOVING_CSV_ENCODING)。"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", default="", help="この日(YYYY-MM-DD)以降の受付分")
        parser.add_argument("--utility", default="", help="事業者のスラッグ(既定: すべて)")
        parser.add_argument("--encoding", default="", help="既定: PORTAL_MOVING_CSV_ENCODING")
        parser.add_argument("--output", "-o", default="-", help="書き出すファイル(既定: 標準出力)")

    def handle(self, *args, **options) -> None:
        try:
            since = since_day(options["since"])
        except ValueError as exc:
            raise CommandError("--since は 2026-12-01 の形で指定してください。") from exc
        applications = MoveApplication.objects.all()
        if options["utility"]:
            utility = Utility.objects.filter(slug=options["utility"]).first()
            if utility is None:
                raise CommandError(f"事業者 {options['utility']!r} はありません。")
            applications = applications.filter(utility=utility)
        encoding = options["encoding"] or settings.PORTAL_MOVING_CSV_ENCODING
        try:
            body, skipped = export_csv(applications, since, encoding)
        except LookupError as exc:
            raise CommandError(f"文字コード {encoding!r} は使えません。") from exc
        if options["output"] == "-":
            sys.stdout.buffer.write(body)
            sys.stdout.buffer.flush()
        else:
            try:
                with open(options["output"], "wb") as out:
                    out.write(body)
            except OSError as exc:
                raise CommandError(
                    f"{options['output']} に書き出せません({exc.strerror})。"
                    "フォルダがあるか、書き込めるかを確かめてください。"
                ) from exc
        if skipped:  # the others are written: one resident never holds up the night's file
            self.stderr.write(skipped_message(encoding, skipped))
