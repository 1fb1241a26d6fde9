# The branches that each added a 0013 migration, merged.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0013_dashboard_indexes"),
        ("tickets", "0013_details_changed_event"),
        ("tickets", "0013_follow_up_event"),
        ("tickets", "0013_portal_indexes_and_rated_event"),
        ("tickets", "0013_saved_view"),
        ("tickets", "0013_service_changed_event"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ticketevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Created"),
                    ("transitioned", "Status changed"),
                    ("assigned", "Assigned"),
                    ("team_changed", "Team changed"),
                    ("level_changed", "Level changed"),
                    ("priority_changed", "Priority changed"),
                    ("replied", "Public reply"),
                    ("note_added", "Internal note"),
                    ("customer_message", "Customer message"),
                    ("followed", "Followed"),
                    ("unfollowed", "Unfollowed"),
                    ("escalated", "Escalated"),
                    ("acknowledged", "Escalation acknowledged"),
                    ("de_escalated", "De-escalated"),
                    ("sla_warning", "SLA warning"),
                    ("sla_breach", "SLA breached"),
                    ("sla_recomputed", "SLA recomputed"),
                    ("notified", "Notification sent"),
                    ("major_incident", "Major incident"),
                    ("follow_up", "Follow-up ticket"),
                    ("rated", "Rated by the customer"),
                    ("details_changed", "Details changed"),
                    ("service_changed", "Affected service changed"),
                ],
                max_length=30,
                verbose_name="kind",
            ),
        ),
    ]
