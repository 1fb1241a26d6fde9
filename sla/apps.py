from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self) -> None:
        from sla.services import active_severity_matrix, on_ticket_change, on_tickets_change
        from tickets.services import register_change_hook, register_severity_matrix

        # Every ticket write recomputes the SLA clock in its own transaction (set-based for
        # many tickets opened together).
        register_change_hook(on_ticket_change, many=on_tickets_change)
        # New and re-assessed tickets take their priority from the active severity matrix.
        register_severity_matrix(active_severity_matrix)
        # The SLA configuration is cached per process (policies with their teams, calendars
        # and targets, the severity matrix): any change to it is seen by every process at once.
        from helpdesk import configcache
        from sla import models
        from tickets.models import Team

        configcache.watch(
            models.BusinessCalendar,
            models.OpeningHours,
            models.CalendarException,
            models.SLAPolicy,
            models.SLATarget,
            models.TierTarget,
            models.SeverityMatrix,
            Team,
        )
