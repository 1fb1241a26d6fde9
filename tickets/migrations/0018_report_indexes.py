"""Indexes the reports' live stretch (today, and days not rolled up) reads a day of tickets
by: the first response and the breaches recorded (`reporting.rollups.collect`). Partial (not
null), so the tickets never answered or never breached cost them nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0017_ticket_sla_due")]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("first_responded_at__isnull", False)),
                fields=["first_responded_at"],
                name="ticket_first_responded_at",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("first_response_breached_at__isnull", False)),
                fields=["first_response_breached_at"],
                name="ticket_first_response_breach",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("resolution_breached_at__isnull", False)),
                fields=["resolution_breached_at"],
                name="ticket_resolution_breach",
            ),
        ),
    ]
