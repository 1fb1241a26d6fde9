from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self) -> None:
        from sla.services import active_severity_matrix, on_ticket_change
        from tickets.services import register_change_hook, register_severity_matrix

        # Every ticket write recomputes the SLA clock in its own transaction.
        register_change_hook(on_ticket_change)
        # New and re-assessed tickets take their priority from the active severity matrix.
        register_severity_matrix(active_severity_matrix)
