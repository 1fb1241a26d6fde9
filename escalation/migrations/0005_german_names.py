"""German names of the default escalation rules (0002_default_rules), shown on German pages.
Only rules that still carry the default English name and no German name yet."""

from django.db import migrations

from helpdesk.names import german_names_migration

RULES = {
    "Sev 1: incident management at once, management informed": (
        "Sev 1: sofort an das Incident-Management, Management informiert"
    ),
    "SLA warning (first response): tell the assignee and the team lead": (
        "SLA-Warnung (Erstreaktion): Bearbeiter und Teamleitung informieren"
    ),
    "SLA warning (status update): tell the assignee and the team lead": (
        "SLA-Warnung (Status-Update): Bearbeiter und Teamleitung informieren"
    ),
    "SLA warning (resolution): tell the assignee and the team lead": (
        "SLA-Warnung (Lösung): Bearbeiter und Teamleitung informieren"
    ),
    "First response breached: next level": "Erstreaktion verletzt: nächste Stufe",
    "Resolution breached: next level": "Lösung verletzt: nächste Stufe",
    "48 business hours without progress: next level": (
        "48 Geschäftsstunden ohne Fortschritt: nächste Stufe"
    ),
    "Escalation not acknowledged in time: further up": (
        "Eskalation nicht rechtzeitig bestätigt: weiter nach oben"
    ),
}


forwards, backwards = german_names_migration("escalation.EscalationRule", RULES)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0004_name_de")]

    operations = [migrations.RunPython(forwards, backwards)]
