"""python manage.py import_readings PATH: upsert the meter readings and charges of a CIS export."""

from __future__ import annotations

from django.core.management.base import CommandParser

from billing import billmail
from billing.imports import import_readings

from ._import import ImportCommand


class Command(ImportCommand):
    help = (
        "検針・料金のCSVを取り込みます。1行でも誤りがあれば何も書き込みません。"
        "列: utility,customer_number,period_start,period_end,read_on,previous_index,"
        "current_index,usage_m3,water_charge,sewer_charge,tax,total"
        "(任意: replaces_period_end)"
    )
    service = staticmethod(import_readings)
    what = "検針"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--replace-overlapping",
            action="store_true",
            help="使用期間が重なる保存済みの検針を、ファイルの行で置き換えます(訂正の取り込み)。",
        )

        hold = parser.add_mutually_exclusive_group()
        hold.add_argument(
            "--hold-mail",
            action="store_true",
            help="「今月のご使用量・料金のお知らせ」メールを保留します(次に保留せず取り込むときに送ります)。",
        )
        hold.add_argument(
            "--send-mail",
            action="store_true",
            help="事業者の既定が保留でも、お知らせメールを送ります。",
        )

    def service_options(self, options: dict) -> dict:
        return {"replace_overlapping": options["replace_overlapping"]}

    def after_import(self, options: dict) -> None:
        hold = True if options["hold_mail"] else False if options["send_mail"] else None
        mailing = billmail.utilities_to_mail(None, hold)
        lines = billmail.mail_lines(None, mailing) if options["verbosity"] >= 1 else []
        billmail.start(mailing)
        for line in lines:  # counted before a worker (or an eager run) starts sending
            self.stdout.write(line)
