"""The tickets behind a figure of the reports page: the same filter the figure counts with,
over the same tickets (visible to the reader, in the chosen slices) and period, so the number
on the page and the length of the list agree."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from reporting.figures import Period, within
from reporting.kpis import SLA_TARGETS, escalated_once, sla_decided
from reporting.quality import has_closing_report, reached_report_level
from tickets.models import Ticket

Narrow = Callable[[QuerySet[Ticket], Period], QuerySet[Ticket]]


def _created(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return tickets.filter(within("created_at", period))


def _escalated(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return _created(tickets, period).filter(escalated_once())


def _answered(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return tickets.filter(within("first_responded_at", period))


def _resolved(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return tickets.filter(within("resolved_at", period))


def _report_due(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return _resolved(tickets, period).filter(reached_report_level())


def _report_written(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return _report_due(tickets, period).filter(has_closing_report())


def _breached(target: str) -> Narrow:
    def narrow(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
        stopped, breached = sla_decided(target, period)
        return tickets.filter(stopped & breached)

    return narrow


NARROW: dict[str, Narrow] = {
    "created": _created,
    "escalated": _escalated,
    "answered": _answered,
    "resolved": _resolved,
    "closing_report_due": _report_due,
    "closing_report_written": _report_written,
    **{f"sla_{target}_breached": _breached(target) for target in SLA_TARGETS},
}


def titles() -> dict[str, str]:
    """What each list shows, in the reader's language."""
    return {
        "created": _("Tickets created in the period"),
        "escalated": _("Tickets created in the period and escalated at least once"),
        "answered": _("Tickets first answered in the period"),
        "resolved": _("Tickets resolved in the period"),
        "closing_report_due": _("Tickets resolved in the period that reached level 3"),
        "closing_report_written": _(
            "Tickets resolved in the period that reached level 3, with a closing report"
        ),
        "sla_first_response_breached": _("First-response target breached (answered in the period)"),
        "sla_next_update_breached": _("Next-update target breached (resolved in the period)"),
        "sla_resolution_breached": _("Resolution target breached (resolved in the period)"),
    }


def drill(tickets: QuerySet[Ticket], period: Period, key: str) -> QuerySet[Ticket] | None:
    """The tickets behind figure `key` (None for an unknown key), newest first."""
    narrow = NARROW.get(key)
    if narrow is None:
        return None
    return narrow(tickets, period).order_by("-created_at", "-pk")
