"""The start of the period as last mailed, so a correction moving either date is mailed; a
reading mailed at its present period is given its start (one moved since keeps none)."""

from django.db import migrations, models
from django.db.models import F


def starts_of_mailed_periods(apps, schema_editor):
    MeterReading = apps.get_model("billing", "MeterReading")
    MeterReading.objects.filter(mail_count__gt=0, mailed_period_end=F("period_end")).update(
        mailed_period_start=F("period_start")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_period_corrections"),
    ]

    operations = [
        migrations.AddField(
            model_name="meterreading",
            name="mailed_period_start",
            field=models.DateField(
                blank=True,
                editable=False,
                null=True,
                verbose_name="お知らせメールで案内した使用期間の始め",
            ),
        ),
        migrations.RunPython(starts_of_mailed_periods, migrations.RunPython.noop),
    ]
