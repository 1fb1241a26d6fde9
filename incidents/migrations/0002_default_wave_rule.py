"""The default wave rule from the source documents' numbers: "many customers affected" is
the trigger for stage 3 (incident management), and a Sev 1 needs a reaction within 15
minutes — so ten new tickets on one service (or with similar subjects) within 15 minutes
propose a Sev 1 major incident to the incident management team. Admins tune it."""

from django.db import migrations


def create(apps, schema_editor):
    WaveRule = apps.get_model("incidents", "WaveRule")
    WaveRule.objects.get_or_create(
        name="Many customers affected",
        defaults={
            "name_de": "Viele Kunden betroffen",
            "min_tickets": 10,
            "window_minutes": 15,
            "by_service": True,
            "by_subject": True,
            "action": "propose",
            "severity": 1,
            "is_active": True,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("incidents", "WaveRule").objects.filter(name="Many customers affected").delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_major_incidents")]

    operations = [migrations.RunPython(create, remove)]
