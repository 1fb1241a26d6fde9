"""The Celery application. The beat schedule is declared here, once, with a comment per entry."""

import os

from celery import Celery

from notifications.queueing import DELIVERIES_QUEUE, DELIVERY_TASKS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Emails and webhooks go to their own queue, consumed by their own worker (`-Q deliveries`):
# a receiver that answers slowly then holds a delivery worker, never the one that runs the
# escalation sweep and the SLA work on the default queue.
app.conf.task_routes = {name: {"queue": DELIVERIES_QUEUE} for name in DELIVERY_TASKS}


# How often beat runs the sweep and the relay (seconds; read from the environment here, as this
# module is imported before Django's settings). A minute in production; the chaos run shortens
# them to see several sweeps per fault.
SWEEP_INTERVAL = float(os.environ.get("ESCALATION_SWEEP_INTERVAL_SECONDS") or 60)
RELAY_INTERVAL = float(os.environ.get("NOTIFICATIONS_RELAY_INTERVAL_SECONDS") or 60)

# Periodic work, one entry each; the escalation sweep and the outbox relay register here.
app.conf.beat_schedule = {
    # The escalation sweep: tickets whose next_check_at has come (an index lookup) get their
    # SLA warnings/breaches recorded and the escalation rules applied, exactly once.
    "escalation-sweep": {"task": "escalation.tasks.sweep_escalations", "schedule": SWEEP_INTERVAL},
    # The outbox relay: emails and webhooks whose send task never ran (broker down at commit,
    # worker lost) or whose retry is due are queued again, each row once; emails held for
    # the recipient's business hours go out as one digest when the hours begin.
    "notifications-relay": {
        "task": "notifications.tasks.relay_deliveries",
        "schedule": RELAY_INTERVAL,
    },
    # Inbound email: every active mailbox with an IMAP host is polled (imap-tools) for unseen
    # messages; each is stored raw and processed once (its Message-ID is unique).
    "mail-poll": {"task": "mail.tasks.poll_mailboxes", "schedule": 60.0},
    # Idempotency keys of API POSTs older than IDEMPOTENCY_KEY_TTL_HOURS are deleted.
    "api-idempotency-purge": {"task": "api.tasks.purge_idempotency_keys", "schedule": 3600.0},
    # API tokens past their expiry are deleted (a token is refused from its expiry on; this
    # clears the ones nobody presents any more).
    "api-token-purge": {"task": "api.tasks.purge_expired_tokens", "schedule": 3600.0},
    # Major incidents: the wave trigger (many new tickets on one service, or with similar
    # subjects, within minutes: propose or declare an incident, once per wave) and the
    # incidents' update cadence (warning and "missed" reminders to the incident manager).
    "incident-sweep": {"task": "incidents.tasks.incident_sweep", "schedule": 60.0},
    # Preventive measures due today or overdue: their owners are reminded, once per due date.
    "lessons-measures-due": {"task": "lessons.tasks.remind_due_measures", "schedule": 900.0},
    # The weekly report email: from Monday 06:00 in each subscriber's time zone, last week's
    # key figures, one outbox email per subscriber and week (a dedupe key per week).
    "reporting-weekly": {"task": "reporting.tasks.send_weekly_reports", "schedule": 3600.0},
    # The reports' daily rollups: closed days missing or made stale by a ticket written since
    # they were rolled up (at most 31 a run, newest first); the page reads today live.
    "reporting-rollups": {"task": "reporting.tasks.roll_up_reports", "schedule": 300.0},
}
