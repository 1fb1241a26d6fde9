"""Open major incidents pinned to the top of the escalation dashboard's "needs a human now"
(registered with the dashboard in IncidentsConfig.ready, so the dashboard never imports this
app)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dashboard.selectors import DashboardFilters, HeaderAction, Pinned
from incidents.models import WaveFiring
from incidents.selectors import can_run_incidents, open_incidents_for

# Wave proposals older than this are no longer offered (as on the incidents page).
PROPOSALS_SHOWN_FOR = dt.timedelta(hours=24)


def pinned_incidents(
    user: AbstractBaseUser, filters: DashboardFilters, now: dt.datetime
) -> list[Pinned]:
    """The open incidents `user` may see, with their services, linked tickets, last update
    and when the next is due; narrowed to the dashboard's affected-service filter if set."""
    rows = open_incidents_for(user)
    if filters.service is not None:
        rows = [
            r for r in rows if any(s.pk == filters.service.pk for s in r.incident.services.all())
        ]
    return [
        Pinned(
            template="incidents/_dashboard_pin.html",
            context={
                "row": row,
                "overdue": row.next_update_due_at is not None and row.next_update_due_at < now,
            },
        )
        for row in rows
    ]


def proposals_since(now: dt.datetime) -> int:
    """Wave proposals of the last day that no incident took up (the incidents page lists them)."""
    return WaveFiring.objects.filter(
        incident__isnull=True, fired_at__gte=now - PROPOSALS_SHOWN_FOR
    ).count()


def dashboard_actions(user: AbstractBaseUser) -> list[HeaderAction]:
    """Beside the dashboard's title, for those who may run major incidents: declare one, and
    the wave proposals waiting for a decision."""
    if not can_run_incidents(user):
        return []
    actions = [HeaderAction(label=_("Declare a major incident"), url=reverse("incidents:declare"))]
    waiting = proposals_since(timezone.now())
    if waiting:
        label = ngettext(
            "%(count)d wave proposal to decide", "%(count)d wave proposals to decide", waiting
        ) % {"count": waiting}
        actions.append(HeaderAction(label=label, url=reverse("incidents:list")))
    return actions
