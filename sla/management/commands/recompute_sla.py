"""Recompute the SLA clocks of open tickets after a policy, calendar or holiday change."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sla.models import BusinessCalendar, SLAPolicy
from sla.services import sla_recompute_many, tickets_affected_by
from tickets.models import Ticket


class Command(BaseCommand):
    help = "Recompute the SLA deadlines of open tickets (all, or those of a policy/calendar)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--policy", help="name or id of an SLA policy")
        parser.add_argument("--calendar", help="name or id of a business calendar")
        parser.add_argument("--ticket", action="append", default=[], help="a ticket reference")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["ticket"]:
            tickets = Ticket.objects.filter(reference__in=options["ticket"])
        elif options["policy"]:
            tickets = tickets_affected_by(policy=self._get(SLAPolicy, options["policy"]))
        elif options["calendar"]:
            tickets = tickets_affected_by(calendar=self._get(BusinessCalendar, options["calendar"]))
        else:
            tickets = Ticket.objects.active()
        ids = list(tickets.order_by("pk").values_list("pk", flat=True))
        count = sla_recompute_many(ids)
        self.stdout.write(self.style.SUCCESS(f"Recomputed {count} of {len(ids)} tickets."))

    def _get(self, model: type, value: str) -> Any:
        lookup = {"pk": int(value)} if value.isdigit() else {"name": value}
        try:
            return model.objects.get(**lookup)
        except model.DoesNotExist:
            raise CommandError(f"No {model._meta.verbose_name} “{value}”.") from None
