"""The rollups hold more figures now (first-contact resolution, recurrence, the hand-offs per
level, trigger and information package): forget which days are rolled up, so each is written
again with them (until then the page reads those days from the tickets)."""

from django.db import migrations


def forget_rolled_days(apps, schema_editor):
    apps.get_model("reporting", "RolledDay").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("reporting", "0002_daily_rollups")]

    operations = [migrations.RunPython(forget_rolled_days, migrations.RunPython.noop)]
