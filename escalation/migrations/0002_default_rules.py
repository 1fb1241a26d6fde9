"""Default escalation rules from the source documents, a starting point in production:
a Sev 1 ticket goes to incident management (level 3) at once and management is informed;
an SLA warning tells the assignee and the team lead; a first-response or resolution breach
escalates to the next level; 48 business hours without progress escalate to the next level;
an escalation not acknowledged within the receiving level's tier target goes further up."""

import datetime as dt

from django.db import migrations

RULES = [
    {
        "name": "Sev 1: incident management at once, management informed",
        "order": 10,
        "trigger": "severity",
        "priority_at_least": 1,
        "escalate": "hierarchical",
        "mark_major_incident": True,
        "notify_target_team": True,
        "notify_level_rank": 4,
        "levels": [1, 2],  # climbs L1 → L2 → L3 and stops there
    },
    *(
        {
            "name": f"SLA warning ({label}): tell the assignee and the team lead",
            "order": 20 + i,
            "trigger": "sla_warning",
            "sla_target": target,
            "notify_assignee": True,
            "notify_team_lead": True,
        }
        for i, (target, label) in enumerate(
            [("first_response", "first response"), ("next_update", "status update"),
             ("resolution", "resolution")]
        )
    ),
    {
        "name": "First response breached: next level",
        "order": 30,
        "trigger": "sla_breach",
        "sla_target": "first_response",
        "escalate": "hierarchical",
        "notify_team_lead": True,
        "notify_target_team": True,
    },
    {
        "name": "Resolution breached: next level",
        "order": 31,
        "trigger": "sla_breach",
        "sla_target": "resolution",
        "escalate": "hierarchical",
        "notify_team_lead": True,
        "notify_target_team": True,
    },
    {
        "name": "48 business hours without progress: next level",
        "order": 40,
        "trigger": "no_progress",
        "threshold": dt.timedelta(hours=48),
        "escalate": "hierarchical",
        "notify_team_lead": True,
        "notify_target_team": True,
    },
    {
        "name": "Escalation not acknowledged in time: further up",
        "order": 50,
        "trigger": "unacknowledged",
        "escalate": "hierarchical",
        "notify_team_lead": True,
        "notify_target_team": True,
    },
]


def forwards(apps, schema_editor):
    EscalationRule = apps.get_model("escalation", "EscalationRule")
    SupportLevel = apps.get_model("tickets", "SupportLevel")
    for spec in RULES:
        spec = dict(spec)
        levels = spec.pop("levels", [])
        rule, created = EscalationRule.objects.get_or_create(name=spec.pop("name"), defaults=spec)
        if created and levels:
            rule.levels.set(SupportLevel.objects.filter(rank__in=levels))


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0001_initial"),
        ("sla", "0002_defaults"),  # creates the support levels
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
