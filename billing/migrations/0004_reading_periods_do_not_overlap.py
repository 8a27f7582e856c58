"""On PostgreSQL the database itself keeps a contract's periods from overlapping.

No writer (the admin, a shell, a second importer) can then store usage counted twice. The
constraint is SQL, not a Meta constraint, because SQLite has no exclusion constraints (there
the model's ``clean`` and the importer hold the rule). If overlapping periods are stored
already, the migration stops and says how to find them; it deletes nothing itself.
"""

from django.core.management.base import CommandError
from django.db import migrations

CONSTRAINT = "reading_periods_do_not_overlap"
OVERLAPS = """
SELECT COUNT(*) FROM billing_meterreading a JOIN billing_meterreading b
ON b.customer_id = a.customer_id AND b.period_end > a.period_end
AND b.period_start <= a.period_end
"""


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(OVERLAPS)
        (pairs,) = cursor.fetchone()
        if pairs:
            raise CommandError(
                f"検針・料金に使用期間の重なりが {pairs} 組あります。"
                "`manage.py find_overlapping_readings` で一覧を出し、誤った方を直すか削除してから、"
                "もう一度 `manage.py migrate` を実行してください。"
            )
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE billing_meterreading ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(customer_id WITH =, daterange(period_start, period_end, '[]') WITH &&)"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE billing_meterreading DROP CONSTRAINT IF EXISTS {CONSTRAINT}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_reading_flag"),
    ]

    operations = [
        migrations.RunPython(add_constraint, drop_constraint),
    ]
