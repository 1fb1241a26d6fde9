"""The GIN index over the stored search vectors, on PostgreSQL only.

Not declared on the model: a GIN index does not exist on SQLite (the demo), where the search
matches substrings instead and needs no index.
"""

from django.db import migrations

INDEX = "knowledge_translation_search"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON knowledge_articletranslation "
        "USING gin (search_vector)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_articles_and_deflections")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
