from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        from api.serializers import ticket_representation
        from helpdesk import configcache
        from notifications.webhooks import register_ticket_representation
        from sla.models import BusinessCalendar, SLAPolicy
        from tickets.models import Service, SupportLevel, Team

        # The ticket representation's configuration rows (`api.representation`), kept per
        # process: a change to one of them is a configuration change.
        configcache.watch(Team, SupportLevel, Service, SLAPolicy, BusinessCalendar)

        # A webhook payload's ticket is the API's ticket (the same serializer).
        register_ticket_representation(ticket_representation)
