"""The Celery application. The beat schedule is declared here, once, with a comment per entry."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Liveness of the worker/beat pair: records that beat ticked and a worker ran a task,
    # so the dashboard and `manage.py check_workers` can tell a stalled pipeline.
    "heartbeat": {"task": "tickets.tasks.heartbeat", "schedule": 60.0},
}
