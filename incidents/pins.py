"""Open major incidents pinned to the top of the escalation dashboard's "needs a human now"
(registered with the dashboard in IncidentsConfig.ready, so the dashboard never imports this
app)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser

from dashboard.selectors import DashboardFilters, Pinned
from incidents.selectors import open_incidents_for


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
