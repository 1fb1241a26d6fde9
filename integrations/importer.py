"""Importing tickets from another helpdesk, history and all, as if they had happened here.

A record (docs/integrations.md: "Import file format") is a ticket with its original creation
instant and its history — replies, internal notes, customer messages, status transitions and
acknowledgements of escalations, each with its instant. The import plays that history in
time order through the ticket services with the clock set to each instant (`now=`), and
before each entry lets the escalation engine evaluate the ticket at every minute of the
beat's grid where it fell due, exactly as the sweep would have (the way `demo.replay` plays
the demo story). So the SLA clock, its warnings and breaches, and the escalations are those
the engine computes for that history: nothing is copied from the other system.

Importing the same (system, external id) again adds to the ticket it became: the entries
beyond those already played are played (their history is append-only, as ours is); nothing
is duplicated. Notifications are muted while history is played (no email about last year).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.evaluation import evaluate_ticket
from escalation.facts import open_escalation
from escalation.services import escalation_acknowledge
from integrations.models import ImportedTicket
from tickets import services as ticket_services
from tickets.models import Customer, Team, Ticket
from tickets.services import NewTicket, TicketError

MINUTE = timedelta(minutes=1)
# A ticket falls due a few times per hand-off; this bounds a misconfigured rule set that
# would keep it due forever.
MAX_EVALUATIONS = 2000

REPLY, NOTE, CUSTOMER_MESSAGE = "reply", "note", "customer_message"
TRANSITION, ACKNOWLEDGE = "transition", "acknowledge"
ENTRY_TYPES = (REPLY, NOTE, CUSTOMER_MESSAGE, TRANSITION, ACKNOWLEDGE)


@dataclass(frozen=True)
class ImportOutcome:
    system: str
    external_id: str
    ticket: Ticket
    created: bool
    played: int  # history entries played by this import


def ceil_minute(at: datetime) -> datetime:
    """The beat's next minute at or after `at` (the sweep runs on the full minute)."""
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + MINUTE


def evaluate_due(ticket: Ticket, *, until: datetime) -> int:
    """Let the engine evaluate `ticket` at every minute of the beat's grid up to `until` at
    which it was due, as the sweep would have; returns how many evaluations ran."""
    runs = 0
    while runs < MAX_EVALUATIONS:
        locked = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("team", "level", "customer", "sla_policy__calendar")
            .get(pk=ticket.pk)
        )
        if locked.next_check_at is None or not locked.is_active:
            break
        at = ceil_minute(locked.next_check_at)
        if at > until:
            break
        evaluate_ticket(locked, now=at)
        runs += 1
    return runs


def find_user(name: str | None, cache: dict[str, AbstractBaseUser | None]) -> Any:
    """The user an external author names (username or email, any case), or None."""
    if not name:
        return None
    if name not in cache:
        User = get_user_model()
        cache[name] = (
            User.objects.filter(Q(username__iexact=name) | Q(email__iexact=name))
            .order_by("pk")
            .first()
        )
    return cache[name]


def ticket_import(
    *,
    actor: AbstractBaseUser,
    record: Mapping[str, Any],
    now: datetime | None = None,
    users: dict[str, AbstractBaseUser | None] | None = None,
) -> ImportOutcome:
    """Import one validated record (see the module docstring). Authors are matched to users
    by username or email; entries without a known author are `actor`'s (an admin). Refusals
    of the services (a transition not allowed from the status the history reached, an
    author who may not work on the ticket) raise, and nothing of this record is kept."""
    now = now or timezone.now()
    users = {} if users is None else users
    with ticket_services.listeners_muted(), transaction.atomic():
        link = (
            ImportedTicket.objects.select_for_update()
            .select_related("ticket")
            .filter(system=record["system"], external_id=record["external_id"])
            .first()
        )
        created = link is None
        if link is None:
            ticket = ticket_services.ticket_create(
                actor=find_user(record.get("created_by"), users) or actor,
                data=NewTicket(
                    subject=record["subject"],
                    description=record.get("description", ""),
                    team=record["team"],
                    customer=record.get("customer"),
                    impact=record.get("impact", 3),
                    urgency=record.get("urgency", 3),
                    channel=record.get("channel", Ticket.Channel.EMAIL),
                ),
                now=record["created_at"],
            )
            link = ImportedTicket.objects.create(
                system=record["system"],
                external_id=record["external_id"],
                ticket=ticket,
                imported_at=now,
                updated_at=now,
            )
        entries = sorted(record.get("history", []), key=lambda entry: entry["at"])
        fresh = entries[link.entries :]
        ticket = link.ticket
        for entry in fresh:
            evaluate_due(ticket, until=entry["at"])
            ticket.refresh_from_db()
            author = find_user(entry.get("author"), users) or actor
            play_entry(ticket, entry, author)
        evaluate_due(ticket, until=now)
        if fresh:
            link.entries += len(fresh)
            link.last_entry_at = fresh[-1]["at"]
        link.updated_at = now
        link.save()
        ticket.refresh_from_db()
        return ImportOutcome(record["system"], record["external_id"], ticket, created, len(fresh))


def play_entry(ticket: Ticket, entry: Mapping[str, Any], author: AbstractBaseUser) -> None:
    """One history entry through the service that does it live, at its instant."""
    at, kind = entry["at"], entry["type"]
    if kind == REPLY:
        ticket_services.ticket_reply(ticket=ticket, actor=author, body=entry["body"], now=at)
    elif kind == NOTE:
        ticket_services.ticket_add_note(ticket=ticket, actor=author, body=entry["body"], now=at)
    elif kind == CUSTOMER_MESSAGE:
        ticket_services.ticket_add_customer_message(
            ticket=ticket,
            body=entry["body"],
            author_name=entry.get("author_name") or entry.get("author") or "",
            now=at,
        )
    elif kind == ACKNOWLEDGE:
        # The receiving team took the escalation the engine raised for this history.
        escalation = open_escalation(ticket)
        if escalation is None:
            raise TicketError({"history": _("There is no escalation to acknowledge then.")})
        escalation_acknowledge(escalation=escalation, actor=author, now=at)
    else:
        ticket_services.ticket_transition(
            ticket=ticket, actor=author, name=entry["transition"], now=at
        )


def team_named(name: str) -> Team | None:
    return Team.objects.filter(name__iexact=name.strip()).first()


def customer_named(name: str) -> Customer | None:
    return Customer.objects.filter(name__iexact=name.strip()).order_by("pk").first()
