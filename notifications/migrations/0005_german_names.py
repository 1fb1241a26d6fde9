"""German names of the default message templates (0003_message_templates): the English
templates get their German name beside it, the German ones keep theirs."""

from django.db import migrations

from helpdesk.names import german_names_migration

NAMES = {
    "Initial escalation notice": "Erste Eskalationsmeldung",
    "Status update": "Status-Update",
    "Closing report": "Abschlussbericht",
}


forwards, backwards = german_names_migration("notifications.MessageTemplate", NAMES)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_name_de")]

    operations = [migrations.RunPython(forwards, backwards)]
