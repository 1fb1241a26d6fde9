"""German names of the default support levels and SLA policies (0002_defaults), shown on
German pages. Only rows that still carry the default English name and no German name yet;
names admins changed stay as they are."""

from django.db import migrations

from helpdesk.names import german_names_migration

LEVELS = {
    "1st level support": "1st-Level-Support",
    "2nd level (experts / team leads)": "2nd-Level-Support (Experten / Teamleitungen)",
    "Incident / service management": "Incident- / Service-Management",
    "Management / crisis team": "Management / Krisenstab",
}
POLICIES = {
    "Sev 1 around the clock": "Sev 1 rund um die Uhr",
    "Enterprise 24/7": "Enterprise 24/7",
    "Standard office hours": "Standard-Bürozeiten",
}


levels_forwards, levels_backwards = german_names_migration("tickets.SupportLevel", LEVELS)
policies_forwards, policies_backwards = german_names_migration("sla.SLAPolicy", POLICIES)


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0004_name_de"),
        ("tickets", "0009_name_de"),
    ]

    operations = [
        migrations.RunPython(levels_forwards, levels_backwards),
        migrations.RunPython(policies_forwards, policies_backwards),
    ]
