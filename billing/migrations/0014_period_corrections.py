"""The ends a correction replaced, as rows of their own (a chain A → B → C is followed),
from the one replaced_period_end a reading kept."""

import django.db.models.deletion
from django.db import migrations, models


def notes_from_readings(apps, schema_editor):
    MeterReading = apps.get_model("billing", "MeterReading")
    PeriodCorrection = apps.get_model("billing", "PeriodCorrection")
    replaced = MeterReading.objects.filter(replaced_period_end__isnull=False)
    PeriodCorrection.objects.bulk_create(
        PeriodCorrection(customer_id=customer, old_end=old, new_end=new)
        for customer, old, new in replaced.values_list(
            "customer_id", "replaced_period_end", "period_end"
        )
    )


def readings_from_notes(apps, schema_editor):
    MeterReading = apps.get_model("billing", "MeterReading")
    PeriodCorrection = apps.get_model("billing", "PeriodCorrection")
    for note in PeriodCorrection.objects.order_by("old_end"):  # the latest stays
        MeterReading.objects.filter(customer_id=note.customer_id, period_end=note.new_end).update(
            replaced_period_end=note.old_end
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_reading_replaced_period_end"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeriodCorrection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("old_end", models.DateField(verbose_name="訂正で置き換えた使用期間の終わり")),
                ("new_end", models.DateField(verbose_name="訂正後の使用期間の終わり")),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="period_corrections",
                        to="billing.customer",
                    ),
                ),
            ],
            options={
                "verbose_name": "検針の訂正",
                "verbose_name_plural": "検針の訂正",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("customer", "old_end", "new_end"), name="period_correction_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(notes_from_readings, readings_from_notes),
        migrations.RemoveField(model_name="meterreading", name="replaced_period_end"),
    ]
