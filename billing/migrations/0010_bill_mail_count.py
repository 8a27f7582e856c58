from collections import Counter

from django.db import migrations, models


def count_mails_sent(apps, schema_editor):
    """Readings mailed before this migration (keys ``bill_ready:<contract>:<end>:<member>``,
    and ``…:<total>`` for a correction) get their count, so the next change is a correction
    with a key of its own (``…:v<n>``), never the first mail's key again."""
    OutboxMail = apps.get_model("portal", "OutboxMail")
    MeterReading = apps.get_model("billing", "MeterReading")
    per_member = Counter()
    keys = OutboxMail.objects.filter(key__startswith="bill_ready:").values_list("key", flat=True)
    for key in keys.iterator():
        contract, end, member = key.split(":")[1:4]
        per_member[(int(contract), end, member)] += 1
    counts = {}
    for (contract, end, _member), sent in per_member.items():
        counts[(contract, end)] = max(counts.get((contract, end), 0), sent)
    for (contract, end), sent in counts.items():
        MeterReading.objects.filter(customer_id=contract, period_end=end).update(
            mail_count=sent, mailed_period_end=end
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_watch"),
        ("portal", "0010_utility_mail_choices"),
    ]

    operations = [
        migrations.AddField(
            model_name="meterreading",
            name="mail_count",
            field=models.PositiveIntegerField(
                db_default=0, default=0, editable=False, verbose_name="お知らせメールの送信回数"
            ),
        ),
        migrations.AddField(
            model_name="meterreading",
            name="mailed_period_end",
            field=models.DateField(
                blank=True,
                editable=False,
                null=True,
                verbose_name="お知らせメールで案内した使用期間の終わり",
            ),
        ),
        migrations.RunPython(count_mails_sent, migrations.RunPython.noop),
    ]
