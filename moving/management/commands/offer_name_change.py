"""python manage.py offer_name_change kanazawa nayoro: tick 「名義変更を受け付ける」 (make demo)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ...models import MovingSettings


class Command(BaseCommand):
    help = "事業者の引越しの受付設定で「名義変更を受け付ける」にチェックを入れます。"

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="+", help="事業者のスラッグ")

    def handle(self, *args, slugs: list[str], **options) -> None:
        found = MovingSettings.objects.filter(utility__slug__in=slugs)
        missing = sorted(set(slugs) - set(found.values_list("utility__slug", flat=True)))
        if missing:
            raise CommandError(f"事業者がありません: {'、'.join(missing)}")
        found.update(offers_name_change=True)
        self.stdout.write(f"名義変更を受け付けます: {'、'.join(slugs)}")
