"""Write operations of the incidents app: a service's status, declaring a major incident,
linking and unlinking tickets, status updates to every linked customer, resolving, the
update reminders and the wave trigger. One transaction each; the incident's timeline
(`IncidentEvent`) records who did what; emails and webhooks go through the outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.handoff import package_from_history, raise_escalation
from escalation.models import Escalation
from helpdesk import configcache
from incidents import cadence
from incidents.detection import RecentTicket, Wave, WaveFacts, WaveRuleSpec, detect, may_fire
from incidents.models import (
    IncidentEvent,
    IncidentLink,
    IncidentUpdate,
    MajorIncident,
    ServiceStatusChange,
    WaveFiring,
    WaveRule,
)
from incidents.selectors import (
    INCIDENT_MANAGEMENT_RANK,
    MANAGEMENT_RANK,
    can_run_incidents,
    held_by_a_link,
)
from incidents.updates import send_update
from notifications import outbox, webhooks
from notifications.models import Delivery, EventType, Notification, WebhookEndpoint
from notifications.services import notify
from tickets import services as ticket_services
from tickets.models import Service, Team, Ticket, TicketEvent
from tickets.services import StaleRequest

User = get_user_model()
K = Notification.Kind
IE = IncidentEvent.Kind


class IncidentError(ValidationError):
    """A request the incident's state does not allow (closed, nothing to link, …): 400/409."""


def require_runner(actor: AbstractBaseUser | None) -> None:
    """PermissionDenied unless `actor` may run major incidents (`can_run_incidents`)."""
    if not can_run_incidents(actor):
        raise PermissionDenied(
            _(
                "Only leads of level 2 and above, the incident management team and admins can "
                "run major incidents."
            )
        )


def _lock(incident: MajorIncident) -> MajorIncident:
    return MajorIncident.objects.select_for_update().get(pk=incident.pk)


def _expect_version(incident: MajorIncident, expected: int | None) -> None:
    if expected is not None and expected != incident.version:
        raise StaleRequest(
            _("The incident changed since this page was loaded; nothing was done. Reload it.")
        )


def _event(
    incident: MajorIncident,
    kind: str,
    *,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    payload: dict[str, Any] | None = None,
    once: str = "",
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        payload=payload or {},
        created_at=now,
        once=once,
    )


# --- Webhooks -----------------------------------------------------------------------------------


def incident_data(incident: MajorIncident) -> dict[str, Any]:
    """The incident as published in webhooks and the API."""
    return {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "services": [s.name for s in incident.services.all()],
        "manager": incident.manager.get_username(),
        "started_at": incident.started_at.isoformat(),
        "next_update_due_at": incident.next_update_due_at.isoformat()
        if incident.next_update_due_at
        else None,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "url": settings.SITE_URL + incident.get_absolute_url(),
    }


def publish(
    event_type: str, data: dict[str, Any], *, actor: AbstractBaseUser | None, now: dt.datetime
) -> list[Delivery]:
    """One webhook delivery per active endpoint subscribed to `event_type` (the payload has
    the same envelope as the ticket events: id, type, timestamp, data with actor)."""
    endpoints: list[WebhookEndpoint] = [
        e for e in webhooks.active_endpoints() if e.subscribes_to(event_type)
    ]
    if not endpoints:
        return []
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = {
        "id": event_id,
        "type": event_type,
        "timestamp": now.astimezone(UTC).isoformat(),
        "data": {**data, "actor": actor.get_username() if actor is not None else None},
    }
    rows = Delivery.objects.bulk_create(
        [
            Delivery(
                channel=Delivery.Channel.WEBHOOK,
                kind=event_type,
                endpoint=endpoint,
                event_id=event_id,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        ]
    )
    outbox.send_after_commit(rows)
    return rows


# --- Services' status ---------------------------------------------------------------------------


def set_service_status(
    service: Service,
    status: str,
    *,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    note: str = "",
    incident: MajorIncident | None = None,
) -> ServiceStatusChange | None:
    """Change a (locked) service's status with its history row and webhook; None when it
    already has that status."""
    if status not in Service.Status.values:
        raise IncidentError({"status": _("Unknown service status.")})
    if service.status == status:
        return None
    change = ServiceStatusChange.objects.create(
        service=service,
        from_status=service.status,
        to_status=status,
        changed_by=actor if actor is not None and actor.is_authenticated else None,
        changed_at=now,
        note=note[:300],
        incident=incident,
    )
    service.status, service.status_changed_at = status, now
    service.save(update_fields=["status", "status_changed_at"])
    if incident is not None:
        _event(
            incident,
            IE.SERVICE_STATUS,
            actor=actor,
            now=now,
            payload={"service": service.pk, "from": change.from_status, "to": status},
        )
    publish(
        EventType.SERVICE_STATUS_CHANGED,
        {
            "service": {"id": service.pk, "name": service.name},
            "from": change.from_status,
            "to": status,
            "incident": incident.pk if incident else None,
        },
        actor=actor,
        now=now,
    )
    return change


@transaction.atomic
def service_change_status(
    *,
    service: Service,
    status: str,
    actor: AbstractBaseUser,
    note: str = "",
    now: dt.datetime | None = None,
) -> ServiceStatusChange | None:
    """An agent who may run incidents sets a service's status (with why)."""
    now = now or timezone.now()
    require_runner(actor)
    service = Service.objects.select_for_update().get(pk=service.pk)
    return set_service_status(service, status, actor=actor, now=now, note=note)


# --- Declaring ----------------------------------------------------------------------------------


def incident_management_users() -> list[AbstractBaseUser]:
    """The on-duty incident management team: members and leads of level-3 teams."""
    rank = INCIDENT_MANAGEMENT_RANK
    return list(
        User.objects.filter(
            Q(teams__level__rank=rank, teams__is_active=True)
            | Q(led_teams__level__rank=rank, led_teams__is_active=True),
            is_active=True,
        ).distinct()
    )


def management_users() -> list[AbstractBaseUser]:
    """Management (stage 4): the leads of level-4 teams."""
    return list(
        User.objects.filter(
            led_teams__level__rank=MANAGEMENT_RANK, led_teams__is_active=True, is_active=True
        ).distinct()
    )


def default_manager() -> AbstractBaseUser | None:
    """Who manages an incident the wave trigger declares: the lead of the first incident
    management team, else the first admin."""
    lead = (
        User.objects.filter(
            led_teams__level__rank=INCIDENT_MANAGEMENT_RANK,
            led_teams__is_active=True,
            is_active=True,
        )
        .order_by("led_teams__name", "pk")
        .first()
    )
    return lead or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()


def status_before_incidents(services: Sequence[Service]) -> dict[str, str]:
    """Each service's status before any open incident held it: what resolving gives back."""
    before = {str(s.pk): s.status for s in services}
    holding = MajorIncident.objects.filter(
        status__in=MajorIncident.OPEN_STATUSES, services__in=services
    ).order_by("declared_at", "pk")
    settled: set[str] = set()
    for incident in holding.distinct():
        for key in before.keys() - settled:
            if key in incident.services_before:  # the earliest holder knew the status before
                before[key] = incident.services_before[key]
                settled.add(key)
    return before


@transaction.atomic
def incident_declare(
    *,
    actor: AbstractBaseUser | None,
    title: str,
    severity: int,
    manager: AbstractBaseUser,
    services: Iterable[Service] = (),
    tickets: Iterable[Ticket] = (),
    source_ticket: Ticket | None = None,
    started_at: dt.datetime | None = None,
    service_impact: str = Service.Status.OUTAGE,
    link_source: str = IncidentLink.Source.MANUAL,
    now: dt.datetime | None = None,
) -> MajorIncident:
    """Declare a major incident: its services go to `service_impact` (their status before is
    kept for the resolution), the tickets are linked (their clocks held), the incident manager
    and the incident management team are told, and for a Sev 1 management too; the ticket it
    was declared from is marked a major incident (the escalation rules see it). `actor` None:
    the wave trigger."""
    now = now or timezone.now()
    if actor is not None:
        require_runner(actor)
    if not (title or "").strip():
        raise IncidentError({"title": _("Give the incident a title.")})
    if severity not in (1, 2, 3, 4):
        raise IncidentError({"severity": _("Choose a severity from Sev 1 to Sev 4.")})
    if manager is None or not manager.is_active or not can_run_incidents(manager):
        raise IncidentError(
            {"manager": _("The incident manager must be someone who may run major incidents.")}
        )
    started_at = started_at or now
    if started_at > now:
        raise IncidentError({"started_at": _("An incident cannot start in the future.")})
    locked = list(Service.objects.select_for_update().filter(pk__in=[s.pk for s in services]))
    incident = MajorIncident.objects.create(
        title=title.strip()[:200],
        severity=severity,
        manager=manager,
        declared_by=actor if actor is not None and actor.is_authenticated else None,
        source_ticket=source_ticket,
        started_at=started_at,
        declared_at=now,
        service_impact=service_impact,
        services_before=status_before_incidents(locked),
        next_update_due_at=cadence.next_update_due(severity, started_at, now),
    )
    incident.services.set(locked)
    _event(
        incident,
        IE.DECLARED,
        actor=actor,
        now=now,
        payload={"severity": severity, "services": [s.pk for s in locked]},
    )
    for service in locked:
        set_service_status(service, service_impact, actor=actor, now=now, incident=incident)
    wanted = list(tickets)
    if source_ticket is not None:
        wanted.insert(0, source_ticket)
        link_ids = {t.pk for t in wanted}
        link_many(
            incident,
            Ticket.objects.filter(pk__in=link_ids),
            actor=actor,
            source=link_source,
            now=now,
        )
        ticket_services.ticket_mark_major_incident(
            ticket=source_ticket, actor=actor, reason=incident.reference, now=now
        )
    elif wanted:
        link_many(incident, wanted, actor=actor, source=link_source, now=now)
    primary = source_ticket or primary_ticket(incident)
    if primary is not None:
        escalate_to_incident_management(incident, primary, actor=actor, now=now)
    payload = {"reference": incident.reference, "incident": incident.pk}
    told = {u.pk: u for u in [manager, *incident_management_users()]}
    if severity == 1:
        management = management_users()
        told.update({u.pk: u for u in management})
        if management:
            _event(
                incident,
                IE.MANAGEMENT_TOLD,
                actor=None,
                now=now,
                payload={"users": sorted(u.pk for u in management)},
            )
    notify(
        list(told.values()),
        kind=K.MAJOR_INCIDENT,
        ticket=source_ticket,
        cause=f"incident:{incident.pk}:declared",
        payload=payload,
        now=now,
        urgent=severity == 1,
    )
    publish(
        EventType.INCIDENT_DECLARED, {"incident": incident_data(incident)}, actor=actor, now=now
    )
    return incident


def incident_management_team(manager: AbstractBaseUser) -> Team | None:
    """The incident management team (level 3) an incident's primary ticket is escalated to:
    the manager's own, else the first active one by name."""
    teams = Team.objects.filter(
        level__rank=INCIDENT_MANAGEMENT_RANK, is_active=True, kind=Team.Kind.TIER
    ).order_by("name", "pk")
    return teams.filter(Q(lead=manager) | Q(members=manager)).first() or teams.first()


def primary_ticket(incident: MajorIncident) -> Ticket | None:
    """The ticket that stands for the incident in the escalation record: the one it was
    declared from, else its earliest linked ticket (a wave's first)."""
    if incident.source_ticket_id is not None:
        return incident.source_ticket
    return (
        Ticket.objects.filter(incident_links__incident=incident, incident_links__ended_at=None)
        .order_by("created_at", "pk")
        .first()
    )


def escalate_to_incident_management(
    incident: MajorIncident,
    ticket: Ticket,
    *,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
) -> Escalation | None:
    """Declaring escalates the incident's primary ticket up to incident management (level 3)
    as one hierarchical escalation through the escalation hand-off, so that dashboards,
    reports and the acknowledgement deadline see it; for a Sev 1 its notice also goes to
    management. Once per intent: None (nothing raised) when the ticket is closed, already
    with incident management or above, or already escalated to that team and not yet
    handed on. The ticket's own clock stays held by its link."""
    target = incident_management_team(incident.manager)
    ticket = Ticket.objects.select_for_update().select_related("team", "level").get(pk=ticket.pk)
    if target is None or not ticket.is_active or ticket.level.rank >= target.level.rank:
        return None
    if Escalation.objects.filter(
        ticket=ticket,
        to_team=target,
        status__in=[Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED],
    ).exists():
        return None
    reason = f"{incident.reference}: {incident.title}"
    if actor is not None and actor.is_authenticated:
        ticket.watchers.add(actor)  # whoever declared keeps sight of the ticket
    return raise_escalation(
        ticket=ticket,
        kind=Escalation.Kind.HIERARCHICAL,
        to_team=target,
        package=package_from_history(ticket, reason),
        actor=actor,
        rule=None,
        trigger="",
        reason=reason,
        keep_assignee=False,
        now=now,
        also_notify=management_users() if incident.severity == 1 else None,
    )


# --- Linking ------------------------------------------------------------------------------------


def link_many(
    incident: MajorIncident,
    tickets: Iterable[Ticket],
    *,
    actor: AbstractBaseUser | None,
    source: str,
    now: dt.datetime,
) -> list[IncidentLink]:
    """Link the active tickets among `tickets` that no incident holds yet (set-based: a lock,
    a read, three inserts and an update for any number). Their escalation clocks are held."""
    ids = [t.pk for t in tickets]
    rows = list(
        Ticket.objects.select_for_update(of=("self",))
        .filter(~held_by_a_link(), pk__in=ids, status__in=Ticket.ACTIVE_STATUSES)
        .order_by("pk")
        .values_list("pk", "reference")
    )
    if not rows:
        return []
    who = actor if actor is not None and actor.is_authenticated else None
    links = IncidentLink.objects.bulk_create(
        [
            IncidentLink(
                incident=incident, ticket_id=pk, source=source, linked_by=who, linked_at=now
            )
            for pk, _ref in rows
        ]
    )
    pks = [pk for pk, _ref in rows]
    # Held: nothing for the sweep to look at until the link ends.
    Ticket.objects.filter(pk__in=pks).update(next_check_at=None, updated_at=now)
    TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                ticket_id=pk,
                kind=TicketEvent.Kind.MAJOR_INCIDENT,
                actor=who,
                payload={"incident": incident.pk, "reference": incident.reference, "linked": True},
                created_at=now,
            )
            for pk in pks
        ]
    )
    _event(
        incident,
        IE.LINKED,
        actor=actor,
        now=now,
        payload={"tickets": [ref for _pk, ref in rows], "source": source},
    )
    return links


@transaction.atomic
def incident_link(
    *,
    incident: MajorIncident,
    tickets: Sequence[Ticket],
    actor: AbstractBaseUser | None,
    source: str = IncidentLink.Source.MANUAL,
    now: dt.datetime | None = None,
) -> list[IncidentLink]:
    """Link tickets to an open incident. Tickets already held by an incident, resolved or
    closed are left out; IncidentError when none is left."""
    now = now or timezone.now()
    if actor is not None:
        require_runner(actor)
    incident = _lock(incident)
    if not incident.is_open:
        raise IncidentError(_("A resolved incident takes no more tickets."))
    links = link_many(incident, tickets, actor=actor, source=source, now=now)
    if not links:
        raise IncidentError(
            _("None of these tickets can be linked: they are closed or already linked.")
        )
    MajorIncident.objects.filter(pk=incident.pk).update(version=F("version") + 1)
    return links


@transaction.atomic
def incident_unlink(
    *,
    incident: MajorIncident,
    ticket: Ticket,
    actor: AbstractBaseUser,
    now: dt.datetime | None = None,
) -> IncidentLink:
    """End a ticket's link: its own clock runs again (the next sweep evaluates it), and the
    incident's updates and resolution no longer reach it."""
    now = now or timezone.now()
    require_runner(actor)
    link = (
        IncidentLink.objects.select_for_update()
        .filter(incident=incident, ticket=ticket, ended_at__isnull=True)
        .first()
    )
    if link is None:
        raise IncidentError(_("This ticket is not linked to the incident."))
    link.ended_at, link.ended_by, link.end = now, actor, IncidentLink.End.UNLINKED
    link.save(update_fields=["ended_at", "ended_by", "end"])
    Ticket.objects.filter(pk=ticket.pk, status__in=Ticket.ACTIVE_STATUSES).update(
        next_check_at=now, updated_at=now
    )
    ticket_services.record_event(
        ticket,
        TicketEvent.Kind.MAJOR_INCIDENT,
        actor=actor,
        now=now,
        payload={"incident": incident.pk, "reference": incident.reference, "linked": False},
    )
    _event(incident, IE.UNLINKED, actor=actor, now=now, payload={"ticket": ticket.reference})
    MajorIncident.objects.filter(pk=incident.pk).update(version=F("version") + 1)
    return link


@transaction.atomic
def incident_post_update(
    *,
    incident: MajorIncident,
    actor: AbstractBaseUser,
    text: str,
    status: str | None = None,
    kind: str | None = None,
    intent: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> IncidentUpdate:
    """Send a status update to every linked customer and set the next one's deadline by the
    severity's cadence. The first update is the initial notice. `intent`: the form's token; a
    second submit is refused (StaleRequest), so nobody gets it twice."""
    now = now or timezone.now()
    require_runner(actor)
    incident = _lock(incident)
    if intent and incident.updates.filter(intent=intent[:64]).exists():
        raise StaleRequest(_("This update was already sent; it was not sent again."))
    _expect_version(incident, expected_version)
    if not incident.is_open:
        raise IncidentError(_("The incident is resolved; send no more updates."))
    if not (text or "").strip():
        raise IncidentError({"text": _("Say what is known.")})
    status = status or incident.status
    if status not in MajorIncident.OPEN_STATUSES:
        raise IncidentError({"status": _("Resolve the incident with its closing report.")})
    if kind is None:
        has_updates = incident.updates.exists()
        kind = (
            IncidentUpdate.Kind.STATUS_UPDATE if has_updates else IncidentUpdate.Kind.INITIAL_NOTICE
        )
    if status != incident.status:
        _event(
            incident,
            IE.STATUS_CHANGED,
            actor=actor,
            now=now,
            payload={"from": incident.status, "to": status},
        )
        incident.status = status
    incident.last_update_at = now
    incident.next_update_due_at = cadence.next_update_due(
        incident.severity, incident.started_at, now
    )
    incident.version += 1
    incident.save(update_fields=["status", "last_update_at", "next_update_due_at", "version"])
    update = IncidentUpdate.objects.create(
        incident=incident,
        kind=kind,
        status=status,
        text=text.strip(),
        author=actor,
        created_at=now,
        intent=intent[:64],
    )
    update.recipients = send_update(incident, update, actor=actor, now=now)
    update.save(update_fields=["recipients"])
    _event(
        incident,
        IE.UPDATE_SENT,
        actor=actor,
        now=now,
        payload={"update": update.pk, "kind": kind, "tickets": update.recipients},
    )
    publish(
        EventType.INCIDENT_UPDATED,
        {
            "incident": incident_data(incident),
            "update": {"id": update.pk, "kind": kind, "text": update.text},
        },
        actor=actor,
        now=now,
    )
    return update


# --- Resolving ----------------------------------------------------------------------------------


@transaction.atomic
def incident_resolve(
    *,
    incident: MajorIncident,
    actor: AbstractBaseUser,
    cause: str,
    solution: str,
    impact: str = "",
    lessons_learned: str = "",
    preventive_measures: str = "",
    text: str = "",
    intent: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> MajorIncident:
    """Close the incident with its report: the closing report reaches every linked customer
    (one email per address, instead of each ticket's resolution notice), the linked (not
    unlinked) tickets are resolved, and the services get back the status
    they had (unless another open incident still holds them)."""
    now = now or timezone.now()
    require_runner(actor)
    incident = _lock(incident)
    if not incident.is_open:
        raise StaleRequest(_("The incident is already resolved."))
    _expect_version(incident, expected_version)
    missing = {
        name: _("The closing report needs this.")
        for name, value in (("cause", cause), ("solution", solution))
        if not (value or "").strip()
    }
    if missing:
        raise IncidentError(missing)
    incident.cause, incident.solution, incident.impact = (
        cause.strip(),
        solution.strip(),
        impact.strip(),
    )
    incident.lessons_learned, incident.preventive_measures = (
        lessons_learned.strip(),
        preventive_measures.strip(),
    )
    incident.status = MajorIncident.Status.RESOLVED
    incident.resolved_at = now
    incident.next_update_due_at = None
    incident.last_update_at = now
    incident.version += 1
    incident.save()
    update = IncidentUpdate.objects.create(
        incident=incident,
        kind=IncidentUpdate.Kind.CLOSING_REPORT,
        status=MajorIncident.Status.RESOLVED,
        text=(text or solution).strip(),
        author=actor,
        created_at=now,
        intent=intent[:64],
    )
    update.recipients = send_update(incident, update, actor=actor, now=now)
    update.save(update_fields=["recipients"])
    links = list(
        IncidentLink.objects.select_for_update()
        .filter(incident=incident, ended_at__isnull=True)
        .select_related("ticket")
    )
    IncidentLink.objects.filter(pk__in=[link.pk for link in links]).update(
        ended_at=now, ended_by=actor, end=IncidentLink.End.RESOLVED
    )
    # The closing report, sent above, is the customers' one email about the resolution: it
    # names all their tickets, so no ticket sends its own resolution notice.
    told = {"incident": incident.pk, ticket_services.CUSTOMER_TOLD: f"incident:{incident.pk}"}
    resolved = 0
    for link in links:
        if link.ticket.is_active:
            ticket_services.ticket_transition(
                ticket=link.ticket,
                actor=actor,
                name="resolve",
                now=now,
                authorised=True,
                facts=told,
            )
            resolved += 1
    still_held = set(
        MajorIncident.objects.filter(status__in=MajorIncident.OPEN_STATUSES)
        .exclude(pk=incident.pk)
        .values_list("services", flat=True)
    )
    for service in Service.objects.select_for_update().filter(incidents=incident):
        if service.pk in still_held:
            continue
        before = incident.services_before.get(str(service.pk), Service.Status.OPERATIONAL)
        set_service_status(service, before, actor=actor, now=now, incident=incident)
    _event(
        incident,
        IE.RESOLVED,
        actor=actor,
        now=now,
        payload={"tickets": resolved, "update": update.pk},
    )
    publish(
        EventType.INCIDENT_RESOLVED, {"incident": incident_data(incident)}, actor=actor, now=now
    )
    return incident


# --- The cadence reminders and the wave trigger (the beat task) ----------------------------------


def remind(
    *, now: dt.datetime | None = None, dry_run: bool = False
) -> list[tuple[MajorIncident, str]]:
    """Warn the incident manager when an update is nearly due, and tell them and the incident
    management leads when it was missed: once per deadline (`IncidentEvent.once`)."""
    now = now or timezone.now()
    lead = max(cadence.INTERVALS.values()) * (1 - cadence.WARNING_SHARE)
    due = MajorIncident.objects.filter(
        status__in=MajorIncident.OPEN_STATUSES, next_update_due_at__lte=now + lead
    ).select_related("manager")
    sent = []
    for incident in due:
        which = cadence.reminder(
            incident.severity, incident.started_at, incident.next_update_due_at, now
        )
        if which == cadence.Reminder.NONE:
            continue
        once = f"{which}:{int(incident.next_update_due_at.timestamp())}"
        if dry_run:
            if not incident.events.filter(once=once).exists():
                sent.append((incident, str(which)))
            continue
        try:
            with transaction.atomic():
                _event(
                    incident,
                    IE.UPDATE_DUE if which == cadence.Reminder.DUE else IE.UPDATE_MISSED,
                    actor=None,
                    now=now,
                    payload={"due_at": incident.next_update_due_at.isoformat()},
                    once=once,
                )
                recipients = [incident.manager]
                if which == cadence.Reminder.MISSED:
                    recipients += list(
                        User.objects.filter(
                            led_teams__level__rank=INCIDENT_MANAGEMENT_RANK, is_active=True
                        ).distinct()
                    )
                notify(
                    recipients,
                    kind=K.INCIDENT_UPDATE_DUE
                    if which == cadence.Reminder.DUE
                    else K.INCIDENT_UPDATE_MISSED,
                    ticket=None,
                    cause=f"incident:{incident.pk}:{once}",
                    payload={
                        "reference": incident.reference,
                        "incident": incident.pk,
                        "due_at": incident.next_update_due_at.isoformat(),
                    },
                    now=now,
                    urgent=incident.severity == 1,
                )
        except IntegrityError:
            continue  # another sweep sent it
        sent.append((incident, str(which)))
    return sent


def wave_facts(rules: Sequence[WaveRuleSpec], now: dt.datetime) -> WaveFacts:
    """What the wave trigger decides from: the recent active tickets no incident holds, the
    recent firings and the services open incidents hold.

    The recent tickets are one query on the creation index. Only when some rule could fire on
    them (`may_fire`, counting the held ones too) are the rest read: which of them a running
    link holds (by their ids on the running-link index: an anti-join lets the planner scan
    every running link), the firings and the held services. So the usual sweep, with no wave
    in sight, is one statement."""
    longest = max(rule.window for rule in rules)
    recent = list(
        Ticket.objects.filter(
            created_at__gte=now - longest,
            created_at__lte=now,
            status__in=Ticket.ACTIVE_STATUSES,
        )
        .order_by()
        .values_list("pk", "created_at", "service_id", "subject")[:20000]
    )
    tickets = tuple(RecentTicket(*row) for row in recent)
    if not may_fire(tickets, rules, now):
        return WaveFacts(tickets=tickets)
    held = set(
        IncidentLink.objects.filter(
            ended_at__isnull=True, ticket_id__in=[row[0] for row in recent]
        ).values_list("ticket_id", flat=True)
    )
    last: dict[tuple[int, str], dt.datetime] = {}
    for rule_id, key, fired in WaveFiring.objects.filter(
        fired_at__gte=now - 3 * longest
    ).values_list("rule_id", "key", "fired_at"):
        last[rule_id, key] = max(fired, last.get((rule_id, key), fired))
    covered = frozenset(
        MajorIncident.services.through.objects.filter(
            majorincident__status__in=MajorIncident.OPEN_STATUSES
        ).values_list("service_id", flat=True)
    )
    return WaveFacts(
        tickets=tuple(t for t in tickets if t.id not in held),
        last_fired=last,
        covered_services=covered,
    )


def load_wave_rules() -> list[WaveRuleSpec]:
    """The active wave rules as the trigger decides by them, read from the database (the
    sweep keeps them per process: `wave_rules`; the rule lab reads a draft's)."""
    return [
        WaveRuleSpec(
            id=rule.pk,
            min_tickets=max(rule.min_tickets, 1),
            window=dt.timedelta(minutes=max(rule.window_minutes, 1)),
            by_service=rule.by_service,
            by_subject=rule.by_subject,
            declare=rule.action == WaveRule.Action.DECLARE,
            severity=rule.severity,
        )
        for rule in WaveRule.objects.filter(is_active=True).order_by("pk")
    ]


def wave_rules() -> list[WaveRuleSpec]:
    """The active wave rules, kept per process until the configuration changes
    (`helpdesk.configcache`; `WaveRule` is watched in the app's `ready`): the sweep runs every
    minute and the rules change a few times a year."""
    return list(configcache.cached("incidents.wave_rules", load_wave_rules))


def detect_waves(*, now: dt.datetime | None = None) -> list[Wave]:
    """The waves that would fire now (the dry run and the preview)."""
    now = now or timezone.now()
    specs = wave_rules()
    if not specs:
        return []
    return detect(wave_facts(specs, now), specs, now)


def wave_dry_run(now: dt.datetime) -> list[str]:
    """The waves that would fire at `now`, one line each (`incident_sweep --dry-run`, and the
    escalation sweep's dry run, where the incidents app registers it)."""
    return [
        f"wave rule {wave.rule.id} {wave.key}: {len(wave.ticket_ids)} tickets, "
        f"{'declare' if wave.rule.declare else 'propose'}"
        for wave in detect_waves(now=now)
    ]


def wave_fire(wave: Wave, *, now: dt.datetime) -> WaveFiring | None:
    """Act on one wave, once (`WaveFiring`'s uniqueness): declare the incident, or propose it
    to the incident management team with the candidate tickets."""
    try:
        with transaction.atomic():
            firing = WaveFiring.objects.create(
                rule_id=wave.rule.id,
                key=wave.key,
                service_id=wave.service_id,
                fired_at=now,
                ticket_ids=list(wave.ticket_ids),
                started_at=wave.started_at,
            )
            first = Ticket.objects.select_related("service").get(pk=wave.ticket_ids[0])
            manager = default_manager() if wave.rule.declare else None
            if manager is not None:
                firing.incident = incident_declare(
                    actor=None,
                    title=first.service.name if first.service_id else first.subject,
                    severity=wave.rule.severity,
                    manager=manager,
                    services=[first.service] if first.service_id else [],
                    tickets=Ticket.objects.filter(pk__in=wave.ticket_ids),
                    started_at=wave.started_at,
                    link_source=IncidentLink.Source.WAVE,
                    now=now,
                )
                firing.save(update_fields=["incident"])
            else:
                notify(
                    incident_management_users(),
                    kind=K.INCIDENT_PROPOSED,
                    ticket=first,
                    cause=f"wave:{firing.pk}",
                    payload={
                        "wave": firing.pk,
                        "count": len(wave.ticket_ids),
                        "what": first.service.name if first.service_id else first.subject,
                        "minutes": int(wave.rule.window.total_seconds() // 60),
                    },
                    now=now,
                    urgent=True,
                )
            return firing
    except IntegrityError:
        return None  # fired already (another sweep)


@transaction.atomic
def incident_declare_from_wave(
    *,
    firing: WaveFiring,
    actor: AbstractBaseUser,
    manager: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> MajorIncident:
    """The one click on a proposal: declare the incident with the wave's tickets linked."""
    now = now or timezone.now()
    require_runner(actor)
    firing = (
        WaveFiring.objects.select_for_update(of=("self",))
        .select_related("rule", "service")
        .get(pk=firing.pk)
    )
    if firing.incident_id is not None:
        raise StaleRequest(_("This wave has been declared already."))
    first = Ticket.objects.filter(pk__in=firing.ticket_ids).order_by("created_at", "pk").first()
    incident = incident_declare(
        actor=actor,
        title=firing.service.name
        if firing.service_id
        else (first.subject if first else firing.key),
        severity=firing.rule.severity,
        manager=manager or actor,
        services=[firing.service] if firing.service_id else [],
        tickets=Ticket.objects.filter(pk__in=firing.ticket_ids),
        started_at=min(firing.started_at, now),
        link_source=IncidentLink.Source.WAVE,
        now=now,
    )
    firing.incident = incident
    firing.save(update_fields=["incident"])
    return incident


def incident_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The beat task's work: fire the waves and send the update reminders."""
    now = now or timezone.now()
    fired = [f for f in (wave_fire(w, now=now) for w in detect_waves(now=now)) if f is not None]
    reminded = remind(now=now)
    return {"waves": len(fired), "reminders": len(reminded)}
