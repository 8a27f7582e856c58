from django.db import migrations


def create(apps, schema_editor):
    Utility = apps.get_model("portal", "Utility")
    MovingSettings = apps.get_model("moving", "MovingSettings")
    for utility in Utility.objects.all():
        MovingSettings.objects.get_or_create(utility=utility)


class Migration(migrations.Migration):
    dependencies = [("moving", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
