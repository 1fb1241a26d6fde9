"""When a ticket needs a closing report, and the guard that keeps it open without one.

A ticket that reached incident management (level `REPORT_LEVEL`) or above at any point, or
that is a major incident, is resolved as usual but closed only once its closing report is
written. `close_guard` is registered with `tickets.guards` in `LessonsConfig.ready`, so every
path that closes a ticket (the ticket page, the API, the admin action, the portal, any sweep
or import going through `ticket_transition`) refuses the same way.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from lessons.models import ClosingReport
from tickets.models import Ticket, TicketEvent

# Incident management: from here on a ticket's resolution is documented.
REPORT_LEVEL = 3


def level_reached(ticket: Ticket) -> int:
    """The highest support level (rank) `ticket` has been at: its own, or any level a
    "level changed" entry of its timeline moved it to (every hand-off writes one)."""
    ranks = [ticket.level.rank]
    for payload in TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.LEVEL_CHANGED
    ).values_list("payload", flat=True):
        value = payload.get("to") if isinstance(payload, dict) else None
        if isinstance(value, int):
            ranks.append(value)
    return max(ranks)


def requires_report(ticket: Ticket) -> bool:
    """Whether closing `ticket` needs a closing report (see the module's docstring)."""
    return ticket.is_major_incident or level_reached(ticket) >= REPORT_LEVEL


def has_report(ticket: Ticket) -> bool:
    return ClosingReport.objects.filter(ticket=ticket).exists()


def close_guard(ticket: Ticket, name: str, by_contact: bool = False) -> str | None:
    """The refusal of closing a ticket that needs a closing report and has none; None for any
    other transition or ticket. `by_contact`: the customer confirmed the solution in the
    portal; they are told the team closes it, not where the report is written."""
    if name != "close" or has_report(ticket) or not requires_report(ticket):
        return None
    if by_contact:
        return _(
            "Thank you for confirming. Our team closes this ticket once it has documented "
            "what happened."
        )
    url = reverse("lessons:report", kwargs={"reference": ticket.reference})
    return _(
        "%(reference)s needs a closing report before it can be closed (it reached incident "
        "management or is a major incident). Write it at %(url)s, then close the ticket."
    ) % {"reference": ticket.reference, "url": url}
