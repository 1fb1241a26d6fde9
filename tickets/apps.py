from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from helpdesk import configcache
        from helpdesk.db import use_text_list_dumper
        from tickets.models import Service, SupportLevel, Team

        # Set-based writes pass their columns as arrays: escape them in C (`helpdesk.db`).
        connection_created.connect(use_text_list_dumper, dispatch_uid="helpdesk.db.text_lists")

        # Support levels and teams are cached per process where every ticket write reads them
        # (`tickets.services.team_level`, the escalation chain), and the active services where
        # every ticket page offers them (`selectors.active_services`): any change is seen at once.
        configcache.watch(SupportLevel, Team, Service)
