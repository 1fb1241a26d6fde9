"""Who is told, and telling them: recipients are resolved in one place, each user's channels
are respected, and every email or webhook is written to the outbox in the caller's
transaction (sent by a worker after commit; see `notifications/outbox.py`).

Two ways in:

- `notify()`: the escalation services call it for what they decide (an escalation raised,
  acknowledged, handed back, not acknowledged; rules' SLA notices). It writes the in-app row
  and the email delivery of every recipient, as their preferences say.
- `on_ticket_event()`: registered with `tickets.services.record_event`, it sees every timeline
  entry. It writes the webhook deliveries, and tells people what no other service decides:
  a ticket assigned to them, the status-update cadence of escalated tickets, the closing
  report of a resolved one, and followers of escalations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext as _

from notifications import email, outbox, webhooks
from notifications.models import (
    DEFAULT_CHANNELS,
    ChannelPreference,
    Notification,
    Preference,
)
from notifications.selectors import is_escalated
from sla.models import BusinessCalendar
from tickets import services as ticket_services
from tickets.models import Message, Team, Ticket, TicketEvent
from tickets.priority import Priority

User = get_user_model()
K = Notification.Kind
E = TicketEvent.Kind


def resolve_recipients(
    ticket: Ticket,
    *,
    assignee: bool = False,
    team_lead: bool = False,
    team: Team | None = None,
    level_rank: int | None = None,
    watchers: bool = False,
    users: Iterable[AbstractBaseUser] = (),
    exclude: AbstractBaseUser | None = None,
) -> list[AbstractBaseUser]:
    """The distinct active users to tell about `ticket`: its assignee, its team's lead, the
    members and lead of `team`, the leads of every team at `level_rank`, its followers, and
    `users`. `exclude` (usually whoever caused it) is left out.
    """
    query = Q(pk__in=[u.pk for u in users])
    if assignee and ticket.assignee_id:
        query |= Q(pk=ticket.assignee_id)
    if team_lead and ticket.team.lead_id:
        query |= Q(pk=ticket.team.lead_id)
    if team is not None:
        query |= Q(teams=team)
        if team.lead_id:
            query |= Q(pk=team.lead_id)
    if level_rank is not None:
        query |= Q(led_teams__level__rank=level_rank)
    if watchers:
        query |= Q(followed_tickets=ticket)
    recipients = User.objects.filter(query, is_active=True).distinct().order_by("pk")
    if exclude is not None and exclude.is_authenticated:
        recipients = recipients.exclude(pk=exclude.pk)
    return list(recipients)


def default_channels(kind: str) -> tuple[bool, bool]:
    """(in the app, by email) for `kind` when the user has not chosen: `DEFAULT_CHANNELS`,
    and for a kind missing there only the app."""
    return DEFAULT_CHANNELS.get(kind, (True, False))


def channels_of(user: AbstractBaseUser) -> dict[str, tuple[bool, bool]]:
    """(in the app, by email) for every kind of notification, as `notify()` would use them
    for `user`: their choice, else the default (one query)."""
    chosen = {
        kind: (in_app, by_email)
        for kind, in_app, by_email in ChannelPreference.objects.filter(
            preference__user=user
        ).values_list("kind", "in_app", "email")
    }
    return {kind: chosen.get(kind, default_channels(kind)) for kind in K.values}


def notifications_mark_read(
    *,
    user: AbstractBaseUser,
    pk: int | None = None,
    ticket_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Mark `user`'s unread notifications read: all of them, the one `pk`, or those about
    the ticket `ticket_id` (its page was opened, or its group in the list was marked).

    One conditional UPDATE of the user's own rows: marking twice, or from two tabs, has one
    effect. Returns how many rows changed. Raises Notification.DoesNotExist when `pk` is not
    one of the user's notifications."""
    mine = Notification.objects.filter(user=user)
    if pk is not None:
        mine.get(pk=pk)
        mine = mine.filter(pk=pk)
    if ticket_id is not None:
        mine = mine.filter(ticket_id=ticket_id)
    return mine.filter(read_at__isnull=True).update(read_at=now or timezone_now())


@transaction.atomic
def preferences_update(
    *,
    user: AbstractBaseUser,
    language: str,
    timezone: str,
    calendar: BusinessCalendar | None,
    channels: Mapping[str, tuple[bool, bool]],
) -> Preference:
    """Save how `user` wants to be told: the language and time zone of their emails, the
    business hours that hold non-urgent email (None: send at once), and (in the app, by
    email) per kind in `channels`. Kinds left out of `channels` keep what they had.

    Every kind given is stored as a row, also when it matches the default: the user saw and
    confirmed it. Raises ValidationError (nothing saved) for an unknown language, time zone
    or kind.
    """
    unknown = sorted(set(channels) - set(K.values))
    if unknown:
        raise ValidationError(
            _("Unknown kinds of notification: %(kinds)s") % {"kinds": ", ".join(unknown)}
        )
    preference = Preference.objects.select_for_update().filter(user=user).first()
    if preference is None:
        preference = Preference(user=user)
    preference.language = language
    preference.timezone = timezone
    preference.calendar = calendar
    preference.full_clean(exclude=["user"])
    preference.save()
    ChannelPreference.objects.bulk_create(
        [
            ChannelPreference(preference=preference, kind=kind, in_app=in_app, email=by_email)
            for kind, (in_app, by_email) in channels.items()
        ],
        update_conflicts=True,
        unique_fields=["preference", "kind"],
        update_fields=["in_app", "email"],
    )
    return preference


def is_urgent(ticket: Ticket | None) -> bool:
    """Sev 1 and major incidents reach people at any hour; the rest may wait for their hours."""
    return ticket is not None and (ticket.priority == Priority.CRITICAL or ticket.is_major_incident)


# Notices about one SLA instant share one key, whoever writes them (a rule's "SLA warning",
# the cadence's "status update due"): nobody is told twice about the same deadline.
SLA_NOTICES = {
    K.SLA_WARNING: "warning",
    K.STATUS_UPDATE_DUE: "warning",
    K.SLA_BREACH: "breach",
    K.STATUS_UPDATE_MISSED: "breach",
}
SLA_TARGETS = ("first_response", "next_update", "resolution")


def dedupe_key(kind: str, ticket: Ticket | None, cause: str, payload: dict[str, Any]) -> str:
    """The key under which a recipient is told about `cause` once, in the app and by email."""
    word = SLA_NOTICES.get(kind)
    target = str(payload.get("target") or "").replace(" ", "_")
    if word and ticket is not None and target in SLA_TARGETS:
        due = getattr(ticket, f"{target}_due_at", None)
        if due is not None:
            return f"sla:{ticket.pk}:{target}:{word}:{int(due.timestamp())}"
    return cause[:120]


def notify(
    recipients: Iterable[AbstractBaseUser],
    *,
    kind: str,
    ticket: Ticket | None,
    cause: str,
    payload: dict[str, Any],
    now: datetime,
    urgent: bool | None = None,
) -> int:
    """Tell each recipient about `cause` (e.g. "escalation:42") on the channels they chose for
    `kind`: an in-app notification, and an email in the outbox (sent after commit; held for
    the recipient's business hours unless `urgent`, which defaults to Sev 1 / major incident).

    A recipient already told about the same cause is not told again. Returns how many in-app
    rows were written.
    """
    batch = NoticeBatch()
    batch.add(
        recipients, kind=kind, ticket=ticket, cause=cause, payload=payload, now=now, urgent=urgent
    )
    return batch.write()


@dataclass
class Notice:
    """One `notify()` call, decided but not yet written."""

    users: list[AbstractBaseUser]
    kind: str
    ticket: Ticket | None
    key: str
    payload: dict[str, Any]
    now: datetime
    urgent: bool


class NoticeBatch:
    """Notices collected and then written together: the same rows as one `notify()` call
    each, with a handful of statements for the whole batch (the sweep tells hundreds of
    people at once)."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def add(
        self,
        recipients: Iterable[AbstractBaseUser],
        *,
        kind: str,
        ticket: Ticket | None,
        cause: str,
        payload: dict[str, Any],
        now: datetime,
        urgent: bool | None = None,
    ) -> None:
        """Like `notify()`; the dedupe key and urgency are taken from `ticket` as it is now."""
        self.add_notice(
            notice_for(
                recipients,
                kind=kind,
                ticket=ticket,
                key=dedupe_key(kind, ticket, cause, payload),
                payload=payload,
                now=now,
                urgent=urgent,
            )
        )

    def add_notice(self, notice: Notice | None) -> None:
        if notice is not None:
            self.notices.append(notice)

    def write(self) -> int:
        """Write every notice's in-app rows and email deliveries; returns the in-app rows
        written."""
        if not self.notices:
            return 0
        users = {u.pk: u for notice in self.notices for u in notice.users}
        channels = _channels_many(users, {notice.kind for notice in self.notices})
        rows = [
            Notification(
                user=user,
                kind=notice.kind,
                ticket=notice.ticket,
                payload=notice.payload,
                dedupe_key=notice.key,
                created_at=notice.now,
            )
            for notice in self.notices
            for user in notice.users
            if channels[user.pk, notice.kind][0]
        ]
        created = Notification.objects.bulk_create(rows, ignore_conflicts=True) if rows else []
        if _outbox_muted():
            return len(created)
        groups = []
        for notice in self.notices:
            by_email = [
                u
                for u in notice.users
                if channels[u.pk, notice.kind][1] and email.clean_address(u.email)
            ]
            if by_email:
                groups.append((notice, by_email))
        if groups:
            held_users = {
                u.pk for notice, by_email in groups if not notice.urgent for u in by_email
            }
            calendars = (
                {
                    preference.user_id: preference.calendar
                    for preference in Preference.objects.filter(
                        user__in=held_users, calendar__isnull=False
                    ).select_related("calendar")
                }
                if held_users
                else {}
            )
            outbox.write_email_groups(
                [
                    outbox.EmailGroup(
                        users=by_email,
                        kind=notice.kind,
                        ticket=notice.ticket,
                        dedupe_key=notice.key,
                        payload=notice.payload,
                        now=notice.now,
                        urgent=notice.urgent,
                        holds={}
                        if notice.urgent
                        else {
                            pk: email.hold_until(calendar, notice.now)
                            for pk, calendar in calendars.items()
                        },
                    )
                    for notice, by_email in groups
                ]
            )
        return len(created)


def notice_for(
    recipients: Iterable[AbstractBaseUser],
    *,
    kind: str,
    ticket: Ticket | None,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    urgent: bool | None = None,
) -> Notice | None:
    """A notice to the distinct active `recipients` under `key` (see `dedupe_key`), or None
    when nobody is left to tell."""
    users = list({u.pk: u for u in recipients if u is not None and u.is_active}.values())
    if not users:
        return None
    return Notice(
        users=users,
        kind=kind,
        ticket=ticket,
        key=key,
        payload={"reference": ticket.reference if ticket else "", **payload},
        now=now,
        urgent=is_urgent(ticket) if urgent is None else urgent,
    )


def _channels_many(
    users: Mapping[int, AbstractBaseUser], kinds: set[str]
) -> dict[tuple[int, str], tuple[bool, bool]]:
    """(in the app, by email) per (user id, kind): their choice, else the default (one read)."""
    chosen = {
        (user_id, kind): (in_app, by_email)
        for user_id, kind, in_app, by_email in ChannelPreference.objects.filter(
            preference__user_id__in=list(users), kind__in=kinds
        ).values_list("preference__user_id", "kind", "in_app", "email")
    }
    return {
        (pk, kind): chosen.get((pk, kind), default_channels(kind)) for pk in users for kind in kinds
    }


def _outbox_muted() -> bool:
    """Whether events are being written without their side effects (backdated demo data,
    imports): then nobody gets an email for it. The flag is `tickets.services`' own."""
    return ticket_services.listeners_are_muted()


# --- The event listener ------------------------------------------------------------------------


def on_ticket_event(event: TicketEvent) -> None:
    """Called by `record_event` for every timeline entry, inside its transaction: write the
    webhook deliveries and the notifications the entry calls for."""
    outbox.send_after_commit(webhooks.deliveries_for_event(event))
    match event.kind:
        case E.CREATED | E.ASSIGNED:
            _assigned(event)
        case E.TRANSITIONED if event.payload.get("to") == Ticket.Status.RESOLVED:
            _resolved(event)
        case E.SLA_WARNING | E.SLA_BREACH if event.payload.get("target") == "next_update":
            _status_update_cadence(event)
        case E.ESCALATED | E.ACKNOWLEDGED | E.DE_ESCALATED:
            _tell_followers(event)


def _label(user: AbstractBaseUser | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _assigned(event: TicketEvent) -> None:
    """The new assignee hears of it, unless they took the ticket themselves."""
    ticket = event.ticket
    if ticket.assignee_id is None or ticket.assignee_id == event.actor_id:
        return
    if event.kind == E.ASSIGNED and event.payload.get("to") is None:
        return
    notify(
        [ticket.assignee],
        kind=K.TICKET_ASSIGNED,
        ticket=ticket,
        cause=f"assigned:{event.pk}",
        payload={"by": _label(event.actor), "reason": event.payload.get("reason", "")},
        now=event.created_at,
    )


def status_update_notice(event_kind: str, due_at: Any) -> tuple[str, tuple[str, str], dict]:
    """While a ticket is escalated, its `next_update` target is the communication cadence:
    at the warning the owner (assignee, else the team lead) is reminded that a status update
    is due; when it is missed the team lead (else the assignee) is told. Returns the notice's
    kind, whom it goes to in order of preference (`resolve_recipients` flags) and its payload
    (shared by the listener and the sweep's bulk lane)."""
    payload = {"target": "next_update", "due_at": due_at}
    if event_kind == E.SLA_WARNING:
        return K.STATUS_UPDATE_DUE, ("assignee", "team_lead"), payload
    return K.STATUS_UPDATE_MISSED, ("team_lead", "assignee"), payload


def _status_update_cadence(event: TicketEvent) -> None:
    """The status-update reminder of an escalated ticket (`status_update_notice`)."""
    ticket = event.ticket
    if not ticket.is_active or not is_escalated(ticket):
        return
    kind, order, payload = status_update_notice(event.kind, event.payload.get("due_at"))
    recipients = resolve_recipients(ticket, **{order[0]: True})
    recipients = recipients or resolve_recipients(ticket, **{order[1]: True})
    notify(
        recipients,
        kind=kind,
        ticket=ticket,
        cause=f"cadence:{event.pk}",
        payload=payload,
        now=event.created_at,
    )


def _resolved(event: TicketEvent) -> None:
    """The closing report goes to whoever followed the ticket and, for an escalated one, to
    everybody the escalation involved: the assignee, the leads of the teams it passed, and
    those who raised it."""
    from escalation.models import Escalation

    ticket = event.ticket
    escalations = list(
        Escalation.objects.filter(ticket=ticket).select_related("from_team", "to_team")
    )
    involved: list[Any] = []
    for escalation in escalations:
        involved += [escalation.raised_by, escalation.from_team.lead, escalation.to_team.lead]
    recipients = resolve_recipients(
        ticket,
        watchers=True,
        assignee=bool(escalations),
        team_lead=bool(escalations),
        users=[u for u in involved if u is not None],
        exclude=event.actor,
    )
    closing = (
        ticket.messages.filter(kind__in=[Message.Kind.REPLY, Message.Kind.NOTE])
        .exclude(author=None)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    notify(
        recipients,
        kind=K.TICKET_RESOLVED,
        ticket=ticket,
        cause=f"resolved:{event.pk}",
        payload={"by": _label(event.actor), "closing_message": closing},
        now=event.created_at,
    )


def _tell_followers(event: TicketEvent) -> None:
    """Followers hear of escalations too. The cause is the one the escalation service uses,
    so a follower who is also on the receiving team is told once."""
    ticket = event.ticket
    followers = resolve_recipients(ticket, watchers=True, exclude=event.actor)
    if not followers:
        return
    p = event.payload
    pk = p.get("escalation")
    if event.kind == E.ESCALATED:
        kind, cause = K.ESCALATION_RAISED, f"escalation:{pk}"
        payload = {"to_team": p.get("to_team", ""), "reason": p.get("reason", ""), "escalation": pk}
        if p.get("reason_facts"):
            payload["reason_facts"] = p["reason_facts"]
    elif event.kind == E.ACKNOWLEDGED:
        kind, cause = K.ESCALATION_ACKNOWLEDGED, f"ack:{pk}"
        payload = {"by": _label(event.actor)}
    else:
        kind, cause = K.DE_ESCALATED, f"deescalation:{pk}"
        payload = {"to_team": p.get("to_team", ""), "reason": p.get("reason", "")}
    notify(followers, kind=kind, ticket=ticket, cause=cause, payload=payload, now=event.created_at)
