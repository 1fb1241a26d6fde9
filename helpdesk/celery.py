"""The Celery application. The beat schedule is declared here, once, with a comment per entry."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Periodic work, one entry each; the escalation sweep and the outbox relay register here.
app.conf.beat_schedule = {
    # The escalation sweep: tickets whose next_check_at has come (an index lookup) get their
    # SLA warnings/breaches recorded and the escalation rules applied, exactly once.
    "escalation-sweep": {"task": "escalation.tasks.sweep_escalations", "schedule": 60.0},
}
