"""python manage.py find_overlapping_readings: list stored periods of a contract that overlap,
of its readings and of its bills (請求・収納).

It only reports; which of two overlapping readings or bills is wrong is for staff to decide
(fix it in the admin, or import the corrected row with ``replaces_period_end``). Exit status
1 if any.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from billing.integrity import overlapping_pairs_sql
from billing.models import Customer, MeterReading, Payment
from portal.models import Utility


class Command(BaseCommand):
    help = "同じ契約で使用期間が重なっている検針・料金と請求・収納を一覧にします(削除はしません)。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--utility", metavar="SLUG", help="この事業者の契約だけを調べます。")

    def handle(self, *args, **options) -> None:
        where, params = "", []
        if options["utility"]:
            utility = Utility.objects.filter(slug=options["utility"]).first()
            if utility is None:
                raise CommandError(f"事業者「{options['utility']}」は登録されていません。")
            where = "a.customer_id IN (SELECT id FROM billing_customer WHERE utility_id = %s)"
            params = [utility.pk]
        readings = self._pairs(MeterReading, where, params)
        bills = self._pairs(Payment, where, params)
        customers = Customer.objects.select_related("utility").in_bulk(
            {p[0] for p in readings + bills}
        )
        for pairs, kind in ((readings, ""), (bills, "請求 ")):
            for customer_id, id_a, start_a, end_a, id_b, start_b, end_b in pairs:
                customer = customers[customer_id]
                self.stdout.write(
                    f"{customer.utility.slug} {customer.number}: {kind}"
                    f"{start_a}〜{end_a} (id {id_a}) と {start_b}〜{end_b} (id {id_b}) が重なっています"
                )
        if readings or bills:
            self.stdout.write(
                f"重なり {len(readings) + len(bills)} 組(検針 {len(readings)} 組、"
                f"請求 {len(bills)} 組)。どちらが正しいか確かめて直してください。"
            )
            raise SystemExit(1)
        self.stdout.write("重なっている使用期間はありません。")

    def _pairs(self, model, where: str, params: list) -> list[tuple]:
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(overlapping_pairs_sql(where, table), params)
            return cursor.fetchall()
