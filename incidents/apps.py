from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Major incidents")

    def ready(self) -> None:
        from dashboard.selectors import register_pinned_source
        from escalation.facts import register_incident_owner
        from incidents.pins import pinned_incidents
        from incidents.selectors import owned_ticket_ids

        # The engine holds the escalation clock of tickets whose communication an open
        # incident owns; escalation/ asks through this seam, so it never imports incidents/.
        register_incident_owner(owned_ticket_ids)
        # Open incidents are pinned first on the escalation dashboard.
        register_pinned_source(pinned_incidents)
