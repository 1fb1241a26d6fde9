"""The rolled durations packed as 8-byte floats (`DailyRollup.durations`, with `lengths`)
instead of JSON arrays (`values`), which the page paid for in formatting and parsing.

On PostgreSQL the stored rows are converted in place (`float8send` writes the network byte
order `reporting.rollups.unpack` reads; the JSON numbers were written by Python's shortest
round-trip repr, so each converts back to the very float), and nothing has to be rolled up
again. Elsewhere (the demo's SQLite) the rolled days are forgotten and written again by the
next runs; until then the page reads them from the tickets. Migrating back forgets them too."""

from django.db import migrations, models

# Over a jsonb object of name -> durations (`{values}`): the lengths by name, and the
# durations packed as `rollups.pack` packs them (tested against it in
# tests/reporting/test_rollups.py).
LENGTHS_OF = """COALESCE((
    SELECT jsonb_object_agg(e.key, jsonb_array_length(e.value)) FROM jsonb_each({values}) e
), '{{}}'::jsonb)"""
PACKED_OF = """COALESCE((
    SELECT string_agg(float8send(v.seconds::float8), ''::bytea
                      ORDER BY e.key COLLATE "C", v.seconds::float8)
    FROM jsonb_each({values}) e, jsonb_array_elements_text(e.value) v(seconds)
), ''::bytea)"""
STORED = 'r."values"'
PACK = (
    "UPDATE reporting_dailyrollup r SET "
    f"lengths = {LENGTHS_OF.format(values=STORED)}, "
    f"durations = {PACKED_OF.format(values=STORED)}"
)


def forget_rolled_days(apps, schema_editor):
    apps.get_model("reporting", "RolledDay").objects.all().delete()
    apps.get_model("reporting", "DailyRollup").objects.all().delete()


def pack_stored_values(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PACK)
    else:
        forget_rolled_days(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("reporting", "0004_dirty_days")]

    operations = [
        migrations.AddField(
            model_name="dailyrollup",
            name="lengths",
            field=models.JSONField(default=dict, verbose_name="lengths"),
        ),
        migrations.AddField(
            model_name="dailyrollup",
            name="durations",
            field=models.BinaryField(default=b"", verbose_name="durations"),
        ),
        # Back: the JSON arrays are not written again; the days are forgotten and rolled up anew.
        migrations.RunPython(pack_stored_values, forget_rolled_days),
        migrations.RemoveField(model_name="dailyrollup", name="values"),
    ]
