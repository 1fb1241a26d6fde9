# The branches that each added a 0007 migration, merged.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0007_delivery_to_contact"),
        ("notifications", "0007_incident_kinds"),
        ("notifications", "0007_low_rating_notification"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channelpreference",
            name="kind",
            field=models.CharField(
                choices=[
                    ("escalation_raised", "Escalation raised"),
                    ("escalation_unacknowledged", "Escalation not acknowledged"),
                    ("escalation_acknowledged", "Escalation acknowledged"),
                    ("de_escalated", "De-escalated"),
                    ("sla_warning", "SLA warning"),
                    ("sla_breach", "SLA breach"),
                    ("rule_fired", "Escalation rule fired"),
                    ("major_incident", "Major incident"),
                    ("ticket_assigned", "Ticket assigned"),
                    ("status_update_due", "Status update due"),
                    ("status_update_missed", "Status update missed"),
                    ("ticket_resolved", "Ticket resolved"),
                    ("sweep_failed", "Escalation sweep failing on a ticket"),
                    ("low_rating", "Low customer rating"),
                    ("incident_proposed", "Major incident proposed"),
                    ("incident_update_due", "Major incident update due"),
                    ("incident_update_missed", "Major incident update missed"),
                ],
                max_length=40,
                verbose_name="kind",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[
                    ("escalation_raised", "Escalation raised"),
                    ("escalation_unacknowledged", "Escalation not acknowledged"),
                    ("escalation_acknowledged", "Escalation acknowledged"),
                    ("de_escalated", "De-escalated"),
                    ("sla_warning", "SLA warning"),
                    ("sla_breach", "SLA breach"),
                    ("rule_fired", "Escalation rule fired"),
                    ("major_incident", "Major incident"),
                    ("ticket_assigned", "Ticket assigned"),
                    ("status_update_due", "Status update due"),
                    ("status_update_missed", "Status update missed"),
                    ("ticket_resolved", "Ticket resolved"),
                    ("sweep_failed", "Escalation sweep failing on a ticket"),
                    ("low_rating", "Low customer rating"),
                    ("incident_proposed", "Major incident proposed"),
                    ("incident_update_due", "Major incident update due"),
                    ("incident_update_missed", "Major incident update missed"),
                ],
                max_length=40,
                verbose_name="kind",
            ),
        ),
    ]
