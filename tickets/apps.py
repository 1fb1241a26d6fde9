from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from helpdesk import configcache
        from tickets.models import SupportLevel, Team

        # Support levels and teams are cached per process where every ticket write reads them
        # (`tickets.services.team_level`, the escalation chain): any change is seen at once.
        configcache.watch(SupportLevel, Team)
