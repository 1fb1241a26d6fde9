"""The services strip of the dashboard: the business services that are not operational, each
with the open major incidents that name it, most critical first.

The service's status lives on `tickets.Service`; the incidents are read through the incidents
app's own selector (`open_incidents_for`, which decides who may see them), so this strip shows
an incident exactly where the pinned incidents of "needs a human now" show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser

from dashboard.selectors import DashboardFilters
from incidents.selectors import OpenIncident, open_incidents_for
from tickets.models import Service


@dataclass
class ServiceRow:
    service: Service
    incidents: list[OpenIncident] = field(default_factory=list)


def services_not_operational(user: AbstractBaseUser, filters: DashboardFilters) -> list[ServiceRow]:
    """Active services whose status is degraded or an outage (outages first, then by
    criticality and name), narrowed to the dashboard's affected-service filter, each with the
    open major incidents on it. One query for the services; the incidents' own (three) only
    when a service is not operational."""
    services = Service.objects.filter(is_active=True).exclude(status=Service.Status.OPERATIONAL)
    if filters.service is not None:
        services = services.filter(pk=filters.service.pk)
    rows = {
        s.pk: ServiceRow(s)
        for s in sorted(
            services,
            key=lambda s: (s.status != Service.Status.OUTAGE, s.criticality, s.display_name),
        )
    }
    if rows:
        for open_incident in open_incidents_for(user):
            for service in open_incident.incident.services.all():
                if service.pk in rows:
                    rows[service.pk].incidents.append(open_incident)
    return list(rows.values())
