"""Days marked by writes that do not touch the ticket's `updated_at` (`DirtyDay`), and the
rollups hold more figures now (the acknowledgement target, closing reports, CSAT and the
escalations per level over time): forget which days are rolled up, so each is written again
with them (until then the page reads those days from the tickets)."""

import django.utils.timezone
from django.db import migrations, models


def forget_rolled_days(apps, schema_editor):
    apps.get_model("reporting", "RolledDay").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("reporting", "0003_roll_up_again")]

    operations = [
        migrations.CreateModel(
            name="DirtyDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(verbose_name="day")),
                (
                    "marked_at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, verbose_name="marked"
                    ),
                ),
            ],
            options={
                "verbose_name": "day to roll up again",
                "verbose_name_plural": "days to roll up again",
            },
        ),
        migrations.RunPython(forget_rolled_days, migrations.RunPython.noop),
    ]
