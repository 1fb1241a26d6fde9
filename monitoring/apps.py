from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        # Celery's signals: the request id travels with queued tasks, each task's id and the
        # sweep's heartbeat are recorded (monitoring/signals.py).
        from monitoring import signals

        signals.connect()
