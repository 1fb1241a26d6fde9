"""The GIN index over the reports' stored search vectors (PostgreSQL only: not declared on
the model, a GIN index does not exist on SQLite, where the search matches substrings), and the
default categories of cause with their German names (admins change and add to them)."""

from django.db import migrations

INDEX = "lessons_report_search"

CATEGORIES = {
    "Software defect": "Softwarefehler",
    "Configuration change": "Konfigurationsänderung",
    "Infrastructure or hardware": "Infrastruktur oder Hardware",
    "Capacity": "Kapazität",
    "Third-party provider": "Drittanbieter",
    "Human error": "Menschlicher Fehler",
    "Process or documentation gap": "Lücke in Prozess oder Dokumentation",
    "Security incident": "Sicherheitsvorfall",
    "Unknown": "Unbekannt",
}


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON lessons_closingreport USING gin (search_vector)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def add_categories(apps, schema_editor):
    CauseCategory = apps.get_model("lessons", "CauseCategory")
    for name, german in CATEGORIES.items():
        CauseCategory.objects.get_or_create(name=name, defaults={"name_de": german})


def remove_categories(apps, schema_editor):
    CauseCategory = apps.get_model("lessons", "CauseCategory")
    CauseCategory.objects.filter(name__in=CATEGORIES, reports__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("lessons", "0001_initial")]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
        migrations.RunPython(add_categories, remove_categories),
    ]
