"""The communication templates of the source documents, in English and German: the initial
escalation notice, the status update (status, measures so far, next steps, decisions needed)
and the closing report (cause, solution, impact, lessons learned, preventive measures).
Admins edit them; this only adds what is missing."""

from django.db import migrations

TEMPLATES = [
    (
        "initial_notice",
        10,
        "en",
        "Initial escalation notice",
        """Escalation of {reference}: {subject}

Hello,

we have escalated ticket {reference} to {team} ({level}), priority {priority}.

What happened:
Affected (who, since when):
Impact:
What we have tried:
Next steps:
Risks:

Owner: {assignee}. The next status update follows by {next_update_due}.
""",
    ),
    (
        "initial_notice",
        10,
        "de",
        "Erste Eskalationsmeldung",
        """Eskalation von {reference}: {subject}

Hallo,

wir haben das Ticket {reference} an {team} ({level}) eskaliert, Priorität {priority}.

Was ist passiert:
Betroffen (wer, seit wann):
Auswirkung:
Was wurde bereits versucht:
Nächste Schritte:
Risiken:

Verantwortlich: {assignee}. Das nächste Status-Update folgt bis {next_update_due}.
""",
    ),
    (
        "status_update",
        20,
        "en",
        "Status update",
        """Status update on {reference}: {subject} ({now})

Current status: {status}, priority {priority}, handled by {team} ({level}).

Measures so far:
-

Next steps:
-

Decisions needed:
-

Next update by {next_update_due}.
""",
    ),
    (
        "status_update",
        20,
        "de",
        "Status-Update",
        """Status-Update zu {reference}: {subject} ({now})

Aktueller Stand: {status}, Priorität {priority}, in Bearbeitung bei {team} ({level}).

Bisherige Maßnahmen:
-

Nächste Schritte:
-

Benötigte Entscheidungen:
-

Nächstes Update bis {next_update_due}.
""",
    ),
    (
        "closing_report",
        30,
        "en",
        "Closing report",
        """Closing report on {reference}: {subject}

Cause:
Solution:
Impact (who, how long):
Lessons learned:
Preventive measures:

Thank you for your patience.
""",
    ),
    (
        "closing_report",
        30,
        "de",
        "Abschlussbericht",
        """Abschlussbericht zu {reference}: {subject}

Ursache:
Lösung:
Auswirkung (wer, wie lange):
Lessons Learned:
Vorbeugende Maßnahmen:

Vielen Dank für Ihre Geduld.
""",
    ),
]


def forwards(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for kind, order, language, name, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            name=name, language=language, defaults={"kind": kind, "order": order, "body": body}
        )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_outbox_webhooks_preferences_templates")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
