"""Create or bring up to date the group utility staff belong to (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ...services.staff import STAFF_GROUP, STAFF_PERMISSIONS, ensure_staff_group


class Command(BaseCommand):
    help = (
        "職員用のグループ「事業者職員」を作成し、必要な権限を付けます(何度実行しても同じ結果です)。"
    )

    def handle(self, *args, **options) -> None:
        ensure_staff_group()
        count = sum(len(actions) for _app, _model, actions in STAFF_PERMISSIONS)
        self.stdout.write(f"グループ「{STAFF_GROUP}」: 権限 {count} 件")
