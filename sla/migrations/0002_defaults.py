"""Defaults from the source documents, usable as a starting point in production:
a business calendar (Mon–Fri 08:00–18:00 Europe/Berlin, German holidays), a 24/7 calendar,
the severity matrix, SLA policies with the seeds' first-reaction targets, and tier targets."""

import datetime as dt

from django.db import migrations

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)

# priority: (first response, next update, resolution) — Sev 1 15 min, Sev 2 1 h, Sev 3 4 h,
# Sev 4 24 h first reaction (seeds, severity table); updates hourly for Sev 1.
STANDARD_TARGETS = {
    1: (15 * M, 1 * H, 4 * H),
    2: (1 * H, 4 * H, 10 * H),
    3: (4 * H, 10 * H, 30 * H),
    4: (24 * H, None, 100 * H),
}
GRID = {
    1: (1, 1, 2, 3),
    2: (1, 2, 3, 3),
    3: (2, 3, 3, 4),
    4: (3, 3, 4, 4),
}
LEVELS = [
    (
        1,
        "1st level support",
        "Standard cases solvable within the SLA: fix, workaround, document in the ticket.",
    ),
    (
        2,
        "2nd level (experts / team leads)",
        "Complex faults, more than a few hours: deep dive, logs, temporary measures.",
    ),
    (
        3,
        "Incident / service management",
        "SLA breach, many customers affected: coordination, "
        "stakeholder information, escalation to management.",
    ),
    (
        4,
        "Management / crisis team",
        "Existential risk, legal consequences: strategic decisions, "
        "external communication, resources.",
    ),
]
# How soon each level must acknowledge a hand-off (OLA).
TIER_ACK = {1: 60 * M, 2: 30 * M, 3: 15 * M, 4: 60 * M}


def forwards(apps, schema_editor):
    BusinessCalendar = apps.get_model("sla", "BusinessCalendar")
    OpeningHours = apps.get_model("sla", "OpeningHours")
    SeverityMatrix = apps.get_model("sla", "SeverityMatrix")
    SLAPolicy = apps.get_model("sla", "SLAPolicy")
    SLATarget = apps.get_model("sla", "SLATarget")
    TierTarget = apps.get_model("sla", "TierTarget")
    SupportLevel = apps.get_model("tickets", "SupportLevel")

    office, created = BusinessCalendar.objects.get_or_create(
        name="Office hours DE",
        defaults={"timezone": "Europe/Berlin", "holiday_country": "DE"},
    )
    if created:
        OpeningHours.objects.bulk_create(
            OpeningHours(calendar=office, weekday=day, start=dt.time(8), end=dt.time(18))
            for day in range(5)
        )
    always, _ = BusinessCalendar.objects.get_or_create(
        name="24/7", defaults={"timezone": "Europe/Berlin", "always_open": True}
    )
    if not SeverityMatrix.objects.exists():
        SeverityMatrix.objects.create(
            name="Default (ITIL)",
            is_active=True,
            grid={
                f"{impact},{urgency}": priority
                for impact, row in GRID.items()
                for urgency, priority in enumerate(row, start=1)
            },
        )
    policies = [
        ("Sev 1 around the clock", 10, always, {"priority_min": 1, "priority_max": 1}),
        ("Enterprise 24/7", 20, always, {"customer_tiers": ["enterprise"]}),
        ("Standard office hours", 100, office, {}),
    ]
    for name, order, calendar, conditions in policies:
        policy, created = SLAPolicy.objects.get_or_create(
            name=name, defaults={"order": order, "calendar": calendar, **conditions}
        )
        if not created:
            continue
        for priority, (first, update, resolution) in STANDARD_TARGETS.items():
            if (
                not conditions.get("priority_min", 1)
                <= priority
                <= conditions.get("priority_max", 4)
            ):
                continue
            SLATarget.objects.create(
                policy=policy,
                priority=priority,
                first_response=first,
                next_update=update,
                resolution=resolution,
                warning_percent=75,
            )
    for rank, name, description in LEVELS:
        level, _ = SupportLevel.objects.get_or_create(
            rank=rank, defaults={"name": name, "description": description}
        )
        TierTarget.objects.get_or_create(
            level=level, defaults={"acknowledge_within": TIER_ACK[rank]}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("tickets", "0002_ticket_sla_columns"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
