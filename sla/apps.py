from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self) -> None:
        from sla.services import on_ticket_change
        from tickets.services import register_change_hook

        # Every ticket write recomputes the SLA clock in its own transaction.
        register_change_hook(on_ticket_change)
