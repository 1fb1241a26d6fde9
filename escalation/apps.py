from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = _("Escalation")

    def ready(self) -> None:
        from escalation.evaluation import on_ticket_change
        from tickets.services import register_change_hook

        # Runs after the SLA hook (app order): evaluates the rules on the fresh deadlines.
        register_change_hook(on_ticket_change)
