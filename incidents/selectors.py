"""Reads of the incidents app: who may run incidents, what an open incident owns, what the
dashboard pins, which tickets are suggested for linking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from incidents.detection import similar, words
from incidents.models import IncidentLink, IncidentUpdate, MajorIncident
from tickets.models import Team, Ticket

# The stages of the documents: 3 is incident management, 4 management.
INCIDENT_MANAGEMENT_RANK = 3
MANAGEMENT_RANK = 4
SUGGESTION_HOURS = 6
SUGGESTION_LIMIT = 100


def can_run_incidents(
    user: AbstractBaseUser | AnonymousUser | None, *, in_runner_team: bool | None = None
) -> bool:
    """Who may declare, link, update and resolve major incidents: admins, holders of
    `incidents.declare_incident`, leads of teams on level 2 and above, and the members of
    the incident management teams (level 3). `in_runner_team`: whether `runner_teams(user)`
    has a row, when the caller read it already (the ticket page: `TICKET_ANNOTATIONS`)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.has_perm("incidents.declare_incident"):
        return True
    return runner_teams(user).exists() if in_runner_team is None else in_runner_team


def runner_teams(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    """The active teams whose place gives `user` the right to run incidents: those they lead
    on level 2 and above, and the incident management teams they are a member of."""
    return Team.objects.filter(
        Q(lead_id=user.pk, level__rank__gte=2)
        | Q(members__id=user.pk, level__rank=INCIDENT_MANAGEMENT_RANK),
        is_active=True,
    )


def is_agent_user(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Agents (in a team) and admins may see incidents and services."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or Team.objects.filter(Q(lead=user) | Q(members=user)).exists()


def held_by_a_link() -> Exists:
    """Whether a ticket has a running incident link (a filter: `~held_by_a_link()` for the
    free ones; an explicit EXISTS, as the reverse join would count link-less tickets in)."""
    return Exists(IncidentLink.objects.filter(ticket=OuterRef("pk"), ended_at__isnull=True))


def owned_ticket_ids(ticket_ids: Iterable[int]) -> set[int]:
    """Among `ticket_ids`, those with a running link to an open incident (one query): the
    engine's "owned by incident" fact."""
    return set(
        IncidentLink.objects.filter(
            ticket_id__in=list(ticket_ids),
            ended_at__isnull=True,
            incident__status__in=MajorIncident.OPEN_STATUSES,
        ).values_list("ticket_id", flat=True)
    )


def running_link(ticket: Ticket) -> IncidentLink | None:
    """The ticket's running link, with its incident (or None). No query for a ticket read by
    the ticket page that has none (`TICKET_ANNOTATIONS`)."""
    if getattr(ticket, HAS_RUNNING_LINK, None) is False:
        return None
    return (
        IncidentLink.objects.filter(ticket=ticket, ended_at__isnull=True)
        .select_related("incident", "incident__manager")
        .first()
    )


# What the ticket page's incident banner needs, read with the ticket itself
# (`tickets.selectors.register_page_annotation`, in the app's `ready`): whether it has a running
# link, and whether the reader's teams let them run incidents (declare one from the ticket).
HAS_RUNNING_LINK = "incident_link_running"
IN_RUNNER_TEAM = "reader_in_incident_runner_team"
TICKET_ANNOTATIONS = {
    HAS_RUNNING_LINK: lambda user: Exists(
        IncidentLink.objects.filter(ticket_id=OuterRef("pk"), ended_at__isnull=True)
    ),
    IN_RUNNER_TEAM: lambda user: Exists(runner_teams(user)),
}


def latest_update(incident: MajorIncident) -> IncidentUpdate | None:
    return incident.updates.order_by("-created_at", "-pk").first()


def incidents_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[MajorIncident]:
    """The incidents `user` may see: every incident for agents and admins, none otherwise.
    Annotated with the running links' count."""
    if not is_agent_user(user):
        return MajorIncident.objects.none()
    return (
        MajorIncident.objects.select_related("manager")
        .prefetch_related("services")
        .annotate(linked=Count("links", filter=Q(links__ended_at__isnull=True), distinct=True))
    )


@dataclass(frozen=True)
class OpenIncident:
    """What the dashboard pins for an open incident."""

    incident: MajorIncident
    services: list[str]
    linked: int
    last_update_at: dt.datetime | None
    next_update_due_at: dt.datetime | None


def open_incidents_for(user: AbstractBaseUser | AnonymousUser) -> list[OpenIncident]:
    """Open major incidents for the dashboard, most severe and most urgent first: their
    services, linked-ticket count, last update and next update due (three queries)."""
    rows = (
        incidents_for(user)
        .filter(status__in=MajorIncident.OPEN_STATUSES)
        .annotate(last_sent=Max("updates__created_at"))
        .order_by("severity", "next_update_due_at", "pk")
    )
    return [
        OpenIncident(
            incident=row,
            services=[s.display_name for s in row.services.all()],
            linked=row.linked,
            last_update_at=row.last_sent,
            next_update_due_at=row.next_update_due_at,
        )
        for row in rows
    ]


def suggestions(
    incident: MajorIncident, user: AbstractBaseUser, *, now: dt.datetime | None = None
) -> list[Ticket]:
    """Open tickets `user` can see, not linked anywhere, created in the last hours, on one of
    the incident's services or with a subject like the incident's title or its tickets'."""
    now = now or timezone.now()
    since = min(now - dt.timedelta(hours=SUGGESTION_HOURS), incident.started_at)
    service_ids = [s.pk for s in incident.services.all()]
    pool = (
        Ticket.objects.visible_to(user)
        .active()
        .filter(~held_by_a_link(), created_at__gte=since)
        .select_related("service", "team", "customer")
        .order_by("-created_at", "-pk")[: SUGGESTION_LIMIT * 5]
    )
    patterns = [words(incident.title)]
    patterns += [
        words(subject)
        for subject in Ticket.objects.filter(
            incident_links__incident=incident, incident_links__ended_at__isnull=True
        ).values_list("subject", flat=True)[:20]
    ]
    found = []
    for ticket in pool:
        mine = words(ticket.subject)
        if ticket.service_id in service_ids or any(similar(mine, p) for p in patterns):
            found.append(ticket)
        if len(found) >= SUGGESTION_LIMIT:
            break
    return found


def linked_tickets(incident: MajorIncident) -> QuerySet[IncidentLink]:
    """The incident's links, running first. Pages show of each ticket what its ownership card
    shows every agent (reference, subject, status, team), never its content."""
    return incident.links.select_related("ticket", "ticket__team", "linked_by").order_by(
        "ended_at", "linked_at", "pk"
    )
