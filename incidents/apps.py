from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Major incidents")

    def ready(self) -> None:
        from dashboard.selectors import register_header_action_source, register_pinned_source
        from escalation.facts import register_incident_owner
        from escalation.preview import register_dry_run_source
        from helpdesk import configcache
        from incidents.emails import send_update_email
        from incidents.models import WaveRule
        from incidents.pins import dashboard_actions, pinned_incidents
        from incidents.selectors import TICKET_ANNOTATIONS, can_run_incidents, owned_ticket_ids
        from incidents.services import wave_dry_run
        from incidents.updates import EMAIL_KIND
        from notifications.outbox import register_email_sender
        from tickets.selectors import register_page_annotation
        from tickets.workspace import BulkDestination, register_bulk_destination

        # The engine holds the escalation clock of tickets whose communication an open
        # incident owns; escalation/ asks through this seam, so it never imports incidents/.
        register_incident_owner(owned_ticket_ids)
        # Open incidents are pinned first on the escalation dashboard.
        register_pinned_source(pinned_incidents)
        # Declaring one (and deciding wave proposals) is offered beside the dashboard's title.
        register_header_action_source(dashboard_actions)
        # The ticket page's banner reads whether the ticket has a running link, and whether
        # the reader may declare an incident, with the ticket: no queries of its own.
        for name, annotation in TICKET_ANNOTATIONS.items():
            register_page_annotation(name, annotation)
        # The ticket list's ticked tickets can be linked to an incident in one go.
        register_bulk_destination(
            BulkDestination(
                label=_("Link to a major incident…"),
                url_name="incidents:link_from_list",
                may=can_run_incidents,
            )
        )
        # An update's email to a customer (one per contact, naming their tickets) goes to a
        # contact, not a user: the outbox sends it with our sender.
        register_email_sender(EMAIL_KIND, send_update_email)
        # The wave trigger is part of the escalation sweep's dry run.
        register_dry_run_source(wave_dry_run)
        # The wave rules are read once per process until one is changed (`wave_rules`).
        configcache.watch(WaveRule)
