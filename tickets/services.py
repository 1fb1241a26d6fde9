"""Write operations on tickets: one use case each, one transaction each.

Every view, API endpoint, admin action and task that changes a ticket calls one of these, so
the browser, the API and the workers can never disagree. Each service locks the ticket row,
changes it, writes a `TicketEvent`, and updates `last_progress_at` when an agent made progress.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Sum, Value
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

from helpdesk import configcache, uploads
from tickets.guards import check_transition
from tickets.models import (
    TRANSITION_NAMES,
    Attachment,
    Contact,
    Customer,
    Message,
    ReferenceCounter,
    Service,
    SupportLevel,
    Team,
    Ticket,
    TicketEvent,
    agent_teams,
    headline,
)
from tickets.priority import Priority, derive_priority

# Hooks run inside the service's transaction after a ticket changed, with the ticket and the
# set of changed aspects ("created", "status", "priority", "team", "assignee", "reply", ...).
# The SLA clock and the escalation engine register here (in their AppConfig.ready), so that
# tickets/ does not import them and every write path recomputes them in the same transaction.
P = ParamSpec("P")
R = TypeVar("R")

# A timeline entry's payload key: the customer was told of this change in another email (a
# major incident's closing report names all their tickets), so the listeners that email the
# customer per ticket leave it out. Its value says what told them ("incident:12").
CUSTOMER_TOLD = "customer_told"

TicketChangeHook = Callable[[Ticket, frozenset[str], datetime, AbstractBaseUser | None], None]
# The same hook for the same change of many tickets at once (set-based: a fixed number of
# statements however many tickets), e.g. the tickets a batch of alerts opens.
TicketsChangeHook = Callable[
    [Sequence[Ticket], frozenset[str], datetime, AbstractBaseUser | None], None
]
_change_hooks: list[TicketChangeHook] = []
_many_hooks: dict[TicketChangeHook, TicketsChangeHook] = {}


def register_change_hook(hook: TicketChangeHook, *, many: TicketsChangeHook | None = None) -> None:
    """Run `hook` after every ticket write, inside its transaction. Idempotent per hook.
    `many`: its set-based version, which `run_change_hooks_many` calls instead of running
    `hook` ticket by ticket; it must write what `hook` writes for each ticket."""
    if hook not in _change_hooks:
        _change_hooks.append(hook)
    if many is not None:
        _many_hooks[hook] = many


def run_change_hooks(
    ticket: Ticket, changes: Iterable[str], now: datetime, actor: AbstractBaseUser | None
) -> None:
    """Run the registered hooks (SLA clock, then escalation) for a change of `ticket`."""
    frozen = frozenset(changes)
    for hook in _change_hooks:
        hook(ticket, frozen, now, actor)


def run_change_hooks_many(
    tickets: Sequence[Ticket],
    changes: Iterable[str],
    now: datetime,
    actor: AbstractBaseUser | None,
) -> None:
    """Run the registered hooks for the same change of each of `tickets`: a hook with a
    set-based version runs once for all of them, any other ticket by ticket. Each ticket
    meets the hooks in their order, as with `run_change_hooks`."""
    frozen = frozenset(changes)
    for hook in _change_hooks:
        many = _many_hooks.get(hook)
        if many is not None:
            many(tickets, frozen, now, actor)
        else:
            for ticket in tickets:
                hook(ticket, frozen, now, actor)


class TicketError(ValidationError):
    """A user's request that cannot be carried out; the message says why."""


def is_agent(user: AbstractBaseUser | None) -> bool:
    """Agents are active users in a team (member or lead), and admins."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return agent_teams(user).exists()


def can_work_ticket(ticket: Ticket, user: AbstractBaseUser) -> bool:
    """Whether `user` may read and comment on `ticket` (`Ticket.objects.visible_to`)."""
    return Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists()


def can_move(ticket: Ticket, user: AbstractBaseUser | None) -> bool:
    """Whether `user` may move `ticket`: escalate it, change its status, re-prioritise it or
    (re)assign it.

    The rule (DESIGN: "Visibility and permissions"): moving belongs to the members and the
    lead of the team that owns the ticket now, to the members and leads of teams on a level
    above the ticket's level (they may pull or push it), and to admins (superusers).
    Followers, the creator and former holders keep reading and commenting (`visible_to`),
    but once the ticket left their team they no longer decide where it goes: the 1st-level
    agent who escalated is not offered "up the chain" again for a ticket the 2nd level owns.
    Every service that moves a ticket checks this; the ticket page offers only what it allows.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return (
        agent_teams(user)
        .filter(Q(pk=ticket.team_id) | Q(level__rank__gt=ticket.level.rank))
        .exists()
    )


@dataclass(frozen=True)
class TicketRights:
    """What `user` may do on a ticket they can read: act as an agent (reply, note, follow)
    and move it (`can_move`)."""

    agent: bool
    move: bool


def ticket_rights(ticket: Ticket, user: AbstractBaseUser | None) -> TicketRights:
    """`is_agent(user)` and `can_move(ticket, user)` together, in one query instead of two
    (the ticket page asks both on every render); none when the ticket was read with
    `rights_annotations(user)` (the ticket page's `selectors.ticket_for_user`)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return TicketRights(agent=False, move=False)
    if user.is_superuser:
        return TicketRights(agent=True, move=True)
    if getattr(ticket, "rights_of_reader", None) == user.pk:
        return TicketRights(agent=ticket.reader_is_agent, move=ticket.reader_moves)  # type: ignore[attr-defined]
    movers = Q(pk=ticket.team_id) | Q(level__rank__gt=ticket.level.rank)
    rights = agent_teams(user).aggregate(agent=Count("pk"), move=Count("pk", filter=movers))
    return TicketRights(agent=rights["agent"] > 0, move=rights["move"] > 0)


def rights_annotations(user: AbstractBaseUser | AnonymousUser) -> dict[str, Any]:
    """`ticket_rights` as annotations of a ticket query, for the reader `user`: whether they
    are an agent and may move the ticket (`can_move`'s rule), and whose rights they are."""
    teams = agent_teams(user) if user.is_authenticated else Team.objects.none()
    movers = Q(pk=OuterRef("team_id")) | Q(level__rank__gt=OuterRef("level__rank"))
    return {
        "rights_of_reader": Value(user.pk, output_field=IntegerField()),
        "reader_is_agent": Exists(teams),
        "reader_moves": Exists(teams.filter(movers)),
    }


def movable_keys(
    tickets: Sequence[tuple[int, int, int]], user: AbstractBaseUser | None
) -> set[int]:
    """The pks of those of `tickets`, given as (pk, team id, level rank), that `user` may
    move: `can_move` for a whole page in one query (the user's teams with their levels),
    whatever the number of tickets; no model object needed (`values_list` will do)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return {pk for pk, _team, _rank in tickets}
    teams = set(agent_teams(user).values_list("pk", "level__rank"))
    if not teams:
        return set()
    team_ids = {pk for pk, _rank in teams}
    top = max(rank for _pk, rank in teams)
    return {pk for pk, team, rank in tickets if team in team_ids or rank < top}


def require_mover(ticket: Ticket, actor: AbstractBaseUser) -> None:
    """PermissionDenied unless `actor` may move `ticket` (see `can_move`)."""
    if not can_move(ticket, actor):
        raise PermissionDenied(
            _(
                "Only the team that owns this ticket (%(team)s), its lead and the levels above "
                "can move it."
            )
            % {"team": ticket.team.name}
        )


def check_move(ticket: Ticket, actor: AbstractBaseUser, expected_version: int | None) -> None:
    """The checks of every service that moves a (locked) ticket: an agent (PermissionDenied),
    the state the request was made from (StaleRequest, checked before the right, so that a
    double submit says what the first one did), and the right to move it (`can_move`).
    Reading is not required: a level above may move a ticket it only knows by its card."""
    if not is_agent(actor):
        raise PermissionDenied(_("You may not work on this ticket."))
    expect_version(ticket, expected_version, actor)
    require_mover(ticket, actor)


class StaleRequest(Exception):
    """A request made from a state of the ticket that no longer holds (a double submit, a
    stale page, an API retry). Entry points answer 409 with the message, which says what
    happened in between."""


def _what_happened(ticket: Ticket, actor: AbstractBaseUser) -> str:
    """The latest change of `ticket`, in one sentence, for a refused request."""
    latest = list(
        TicketEvent.objects.filter(ticket=ticket)
        .exclude(kind__in=[TicketEvent.Kind.FOLLOWED, TicketEvent.Kind.UNFOLLOWED])
        .select_related("actor")
        .order_by("-created_at", "-pk")[:12]
    )
    if not latest:
        return _("The ticket changed since this page was loaded.")
    event = headline([e for e in latest if e.created_at == latest[0].created_at])
    p = event.payload if isinstance(event.payload, dict) else {}
    if event.actor_id is None:
        who = _("automatically")
    elif event.actor_id == actor.pk:
        who = _("by you")
    else:
        who = _("by %(name)s") % {"name": user_label(event.actor)}
    values = {
        "when": f"{timezone.localtime(event.created_at):%H:%M}",
        "who": who,
        "team": p.get("to_team") or p.get("to") or p.get("team") or "",
    }
    k = TicketEvent.Kind
    texts = {
        k.ESCALATED: _("Already escalated to %(team)s at %(when)s %(who)s."),
        k.DE_ESCALATED: _("Already handed back to %(team)s at %(when)s %(who)s."),
        k.ACKNOWLEDGED: _("The escalation was already acknowledged at %(when)s %(who)s."),
        k.TEAM_CHANGED: _("Already moved to %(team)s at %(when)s %(who)s."),
        k.ASSIGNED: _("Already reassigned at %(when)s %(who)s."),
        k.PRIORITY_CHANGED: _("The priority was already changed at %(when)s %(who)s."),
        k.REPLIED: _("A reply was sent at %(when)s %(who)s."),
        k.NOTE_ADDED: _("A note was added at %(when)s %(who)s."),
        k.CUSTOMER_MESSAGE: _("The customer wrote at %(when)s."),
    }
    if event.kind == k.TRANSITIONED:
        values["status"] = (
            str(Ticket.Status(p["to"]).label) if p.get("to") in Ticket.Status.values else ""
        )
        return _("The status already changed to “%(status)s” at %(when)s %(who)s.") % values
    text = texts.get(event.kind)
    if text is None:
        values["what"] = event.get_kind_display()
        return _("The ticket changed at %(when)s (%(what)s).") % values
    return text % values


def expect_version(ticket: Ticket, expected: int | None, actor: AbstractBaseUser) -> None:
    """StaleRequest unless the locked `ticket` is still at the `expected` version (None: the
    caller made no claim, e.g. a script). Says what happened in between."""
    if expected is None or expected == ticket.version:
        return
    raise stale_request(ticket, actor)


def stale_request(ticket: Ticket, actor: AbstractBaseUser) -> StaleRequest:
    """The refusal of a request whose expected state no longer holds, naming the latest
    change of `ticket` ("Already escalated to L2 at 10:42 by Ann.")."""
    return StaleRequest(
        _("%(what)s Your request was not carried out: check the current state.")
        % {"what": _what_happened(ticket, actor)}
    )


def bump_version(ticket: Ticket) -> None:
    """Count a write that did not save the ticket row itself (an acknowledgement): forms
    made before it are stale now. Hand-offs move the version as they save the row."""
    Ticket.objects.filter(pk=ticket.pk).update(version=F("version") + 1)
    ticket.version = Ticket.objects.values_list("version", flat=True).get(pk=ticket.pk)


def allocate_references(year: int, count: int = 1) -> list[str]:
    """Reserve `count` consecutive references for `year`, e.g. HD-2026-000123.

    One statement: an upsert that creates the year's counter row or adds `count` to it and
    returns the new last number. It locks the row until the transaction ends, so concurrent
    creations never share a number (PostgreSQL and SQLite alike).
    """
    prefix = settings.TICKET_REFERENCE_PREFIX
    connection = transaction.get_connection()
    table = connection.ops.quote_name(ReferenceCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {table} ("year", "last") VALUES (%s, %s) '  # noqa: S608 - a model's table
            f'ON CONFLICT ("year") DO UPDATE SET "last" = {table}."last" + EXCLUDED."last" '
            'RETURNING "last"',
            [year, count],
        )
        (last,) = cursor.fetchone()
    first = last - count + 1
    return [f"{prefix}-{year}-{n:06d}" for n in range(first, first + count)]


def _lock(ticket: Ticket) -> Ticket:
    """Reload `ticket` with a row lock for the rest of the transaction.

    Only the ticket row is locked (`of`), not the team and level rows it is read with, so
    workers handling tickets of the same team never wait for each other.
    """
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("team", "level", "customer", "sla_policy__calendar")
        .get(pk=ticket.pk)
    )


EventListener = Callable[[TicketEvent], None]
_event_listeners: list[EventListener] = []
_listeners_muted: ContextVar[bool] = ContextVar("listeners_muted", default=False)


@contextlib.contextmanager
def listeners_muted() -> Iterator[None]:
    """Write events without telling the listeners (no webhooks or emails), e.g. while
    loading backdated demo data or importing history."""
    token = _listeners_muted.set(True)
    try:
        yield
    finally:
        _listeners_muted.reset(token)


def listeners_are_muted() -> bool:
    """Whether events are being written without telling the listeners (see `listeners_muted`)."""
    return _listeners_muted.get()


def change_hooks() -> tuple[TicketChangeHook, ...]:
    """The registered change hooks, in order (for callers that apply their effects in bulk
    and must know they know all of them)."""
    return tuple(_change_hooks)


def event_listeners() -> tuple[EventListener, ...]:
    """The registered event listeners, in order (see `change_hooks`)."""
    return tuple(_event_listeners)


def register_event_listener(listener: EventListener) -> None:
    """Call `listener` with every new timeline event, inside the transaction that wrote it.

    Notifications register here: webhook and email deliveries are written in the same
    transaction as the event that causes them (the outbox). Idempotent per listener.
    """
    if listener not in _event_listeners:
        _event_listeners.append(listener)


def record_event(
    ticket: Ticket,
    kind: str,
    *,
    actor: AbstractBaseUser | None,
    now: datetime,
    payload: dict[str, Any] | None = None,
    message: Message | None = None,
) -> TicketEvent:
    """Append an entry to the ticket's timeline; the one way events are written."""
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        payload=payload or {},
        message=message,
        created_at=now,
    )
    _tell_listeners(event)
    return event


def _tell_listeners(event: TicketEvent) -> None:
    if not _listeners_muted.get():
        for listener in _event_listeners:
            listener(event)


def user_label(user: AbstractBaseUser | None) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def check_attachment_limits(ticket: Ticket, files: Sequence[UploadedFile]) -> None:
    """Raise TicketError (on `attachments`) when `files` break a limit: more than
    ATTACHMENT_MAX_FILES at once, one larger than ATTACHMENT_MAX_BYTES, or the ticket's
    attachments together beyond TICKET_ATTACHMENTS_MAX_BYTES. The upload handler checks the
    first two while the browser's request streams in; this covers every way in."""
    if len(files) > settings.ATTACHMENT_MAX_FILES:
        raise TicketError({"attachments": uploads.too_many_message()})
    for upload in files:
        if upload.size > settings.ATTACHMENT_MAX_BYTES:
            raise TicketError({"attachments": uploads.file_too_large_message(upload.name or "")})
    stored = Attachment.objects.filter(ticket=ticket).aggregate(total=Sum("size"))["total"] or 0
    if stored + sum(upload.size for upload in files) > settings.TICKET_ATTACHMENTS_MAX_BYTES:
        raise TicketError(
            {
                "attachments": _(
                    "This ticket's attachments would exceed %(limit)s in total; nothing was saved."
                )
                % {"limit": filesizeformat(settings.TICKET_ATTACHMENTS_MAX_BYTES)}
            }
        )


def _save_attachments(
    ticket: Ticket,
    message: Message | None,
    files: Sequence[UploadedFile],
    actor: AbstractBaseUser | None,
) -> list[Attachment]:
    check_attachment_limits(ticket, files)
    saved = []
    written = _written_files.get()
    for upload in files:
        attachment = Attachment(
            ticket=ticket,
            message=message,
            original_name=(upload.name or "file")[:255],
            content_type=(getattr(upload, "content_type", "") or "")[:100],
            size=upload.size,
            uploaded_by=actor if actor is not None and actor.is_authenticated else None,
        )
        attachment.file.save(upload.name or "file", upload, save=False)
        if written is not None:
            written.append((attachment.file.storage, attachment.file.name))
        attachment.save()
        saved.append(attachment)
    return saved


# Files written to storage by the current service call; removed again if it fails, so a
# rolled-back message leaves no orphaned upload behind.
_written_files: ContextVar[list[tuple[Storage, str]] | None] = ContextVar(
    "written_files", default=None
)


def atomic_with_files(func: Callable[P, R]) -> Callable[P, R]:
    """`transaction.atomic`, plus removal of the attachments stored when the call fails."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _written_files.set([])
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except BaseException:
            for storage, name in _written_files.get() or []:
                storage.delete(name)
            raise
        finally:
            _written_files.reset(token)

    return wrapper


@dataclass(frozen=True)
class NewTicket:
    """What it takes to open a ticket, validated by forms and serializers before it gets here."""

    subject: str
    description: str
    team: Team
    customer: Customer | None = None
    impact: int = 3
    urgency: int = 3
    channel: str = Ticket.Channel.WEB
    assignee: AbstractBaseUser | None = None
    level: SupportLevel | None = None
    requester: Contact | None = None
    service: Service | None = None
    # The idempotency token of the form that opened it (the portal's), kept in the timeline.
    intent: str = ""


def _validate_assignee(team: Team, assignee: AbstractBaseUser | None) -> None:
    if assignee is None:
        return
    if not assignee.is_active:
        raise TicketError({"assignee": _("This user is not active.")})
    if not (assignee.is_superuser or team.members.filter(pk=assignee.pk).exists()) and (
        team.lead_id != assignee.pk
    ):
        raise TicketError({"assignee": _("The assignee must be a member of the ticket's team.")})


def _check_new(data: NewTicket) -> None:
    if not data.subject.strip():
        raise TicketError({"subject": _("A subject is required.")})
    if not data.team.is_active:
        raise TicketError({"team": _("This team is not active.")})
    _validate_assignee(data.team, data.assignee)


def _new_ticket(
    data: NewTicket, reference: str, actor: AbstractBaseUser | None, now: datetime
) -> Ticket:
    return Ticket(
        reference=reference,
        subject=data.subject.strip(),
        description=data.description,
        impact=data.impact,
        urgency=data.urgency,
        priority=derive_ticket_priority(data.impact, data.urgency),
        team=data.team,
        level=data.level or team_level(data.team),
        assignee=data.assignee,
        customer=data.customer or (data.requester.customer if data.requester else None),
        requester=data.requester,
        service=data.service,
        channel=data.channel,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
        updated_at=now,
        cycle_started_at=now,
    )


def _created_payload(ticket: Ticket, data: NewTicket) -> dict[str, Any]:
    return {
        "subject": ticket.subject,
        "team": ticket.team.name,
        "level": ticket.level.rank,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "assignee": user_label(ticket.assignee),
        **({"requester": ticket.requester.email} if ticket.requester else {}),
        **({"service": ticket.service.name} if ticket.service else {}),
        **({"intent": data.intent[:64]} if data.intent else {}),
    }


@atomic_with_files
def ticket_create(
    *,
    actor: AbstractBaseUser | None,
    data: NewTicket,
    attachments: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket. Priority comes from the severity matrix; the level from the team."""
    now = now or timezone.now()
    _check_new(data)
    (reference,) = allocate_references(now.year)
    ticket = _new_ticket(data, reference, actor, now)
    ticket.save()
    record_event(
        ticket,
        TicketEvent.Kind.CREATED,
        actor=actor,
        now=now,
        payload=_created_payload(ticket, data),
    )
    if attachments:
        _save_attachments(ticket, None, attachments, actor)
    run_change_hooks(ticket, {"created"}, now, actor)
    return ticket


@transaction.atomic(savepoint=False)
def tickets_create(
    *, actor: AbstractBaseUser | None, data: Sequence[NewTicket], now: datetime | None = None
) -> list[Ticket]:
    """Open several tickets at once (without attachments), as `ticket_create` opens each: the
    same rows, timeline entries, listeners and change hooks, in their order. Set-based where
    the rows allow it: one statement reserves the references, one inserts the tickets, one
    their `created` entries; then the change hooks (SLA clock, engine), set-based where they
    have a version for many tickets (`run_change_hooks_many`). All or none, without a
    savepoint of its own: inside a caller's transaction, a refused ticket (TicketError) or a
    failure fails that whole transaction."""
    now = now or timezone.now()
    if not data:
        return []
    for item in data:
        _check_new(item)
    references = allocate_references(now.year, len(data))
    tickets = Ticket.objects.bulk_create(
        [
            _new_ticket(item, reference, actor, now)
            for item, reference in zip(data, references, strict=True)
        ]
    )
    who = actor if actor is not None and actor.is_authenticated else None
    events = TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                ticket=ticket,
                kind=TicketEvent.Kind.CREATED,
                actor=who,
                payload=_created_payload(ticket, item),
                created_at=now,
            )
            for ticket, item in zip(tickets, data, strict=True)
        ]
    )
    for event in events:
        _tell_listeners(event)
    run_change_hooks_many(tickets, {"created"}, now, actor)
    return tickets


def _load_levels() -> dict[int, SupportLevel]:
    return {level.pk: level for level in SupportLevel.objects.all()}


def team_level(team: Team) -> SupportLevel:
    """The level of `team`: from `team` when it was read with it, else from the levels as
    cached per process (`helpdesk.configcache`, watched in `TicketsConfig.ready`)."""
    if Team.level.is_cached(team):
        return team.level
    level = configcache.cached("tickets.levels", _load_levels).get(team.level_id)
    return level if level is not None else team.level


# The severity matrix belongs to the SLA configuration: `sla` registers its lookup here (in
# SlaConfig.ready), so that tickets/ does not import it. Without one, the default grid applies.
SeverityMatrixSource = Callable[[], Mapping[tuple[int, int], int] | None]
_severity_matrix_sources: list[SeverityMatrixSource] = []


def register_severity_matrix(source: SeverityMatrixSource) -> None:
    """Take priorities from the grid `source` returns (None: the default grid). The last one
    registered wins."""
    _severity_matrix_sources[:] = [source]


def derive_ticket_priority(impact: int, urgency: int) -> int:
    """The priority for a new or re-assessed ticket, from the active severity matrix."""
    matrix = _severity_matrix_sources[0]() if _severity_matrix_sources else None
    return derive_priority(impact, urgency, matrix)


def _progress(ticket: Ticket, actor: AbstractBaseUser | None, now: datetime) -> list[str]:
    """Record agent progress (see DESIGN: 'Progress'); returns the fields it changed."""
    if actor is not None and is_agent(actor):
        ticket.last_progress_at = now
        return ["last_progress_at"]
    return []


def _add_message(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser | None,
    kind: str,
    body: str,
    attachments: Sequence[UploadedFile],
    now: datetime,
    author_name: str = "",
    intent: str = "",
    contact: Contact | None = None,
) -> Message:
    if not body.strip():
        raise TicketError({"body": _("The message is empty.")})
    message = Message.objects.create(
        ticket=ticket,
        kind=kind,
        author=actor if actor is not None and actor.is_authenticated else None,
        author_name=author_name,
        contact=contact,
        body=body,
        created_at=now,
        intent=intent[:64],
    )
    if attachments:
        _save_attachments(ticket, message, attachments, actor)
    return message


def _require_agent(ticket: Ticket, actor: AbstractBaseUser) -> None:
    if not is_agent(actor) or not can_work_ticket(ticket, actor):
        raise PermissionDenied(_("You may not work on this ticket."))


def _expect_new_intent(ticket: Ticket, intent: str) -> None:
    """StaleRequest when a message with this idempotency token exists (the ticket is locked,
    so two concurrent submits of one form are serialised here)."""
    if not intent:
        return
    sent = Message.objects.filter(ticket=ticket, intent=intent[:64]).first()
    if sent is not None:
        raise StaleRequest(
            _("This message was already sent at %(when)s; it was not sent again.")
            % {"when": f"{timezone.localtime(sent.created_at):%H:%M}"}
        )


@atomic_with_files
def ticket_reply(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    body: str,
    attachments: Sequence[UploadedFile] = (),
    intent: str = "",
    now: datetime | None = None,
) -> Message:
    """A public reply by an agent: progress, and it meets the first-response target.

    `intent` is the idempotency token of the form (or API request): a second request with
    the same token is refused (StaleRequest) instead of sending the reply twice."""
    now = now or timezone.now()
    ticket = _lock(ticket)
    _require_agent(ticket, actor)
    _expect_new_intent(ticket, intent)
    if not ticket.is_active and ticket.status != Ticket.Status.RESOLVED:
        raise TicketError({"body": _("A closed ticket takes no more replies.")})
    message = _add_message(
        ticket=ticket,
        actor=actor,
        kind=Message.Kind.REPLY,
        body=body,
        attachments=attachments,
        now=now,
        intent=intent,
    )
    ticket.version += 1
    changed = ["updated_at", "version", *_progress(ticket, actor, now)]
    first = ticket.first_responded_at is None
    if first:
        ticket.first_responded_at = now
        changed.append("first_responded_at")
    ticket.updated_at = now
    ticket.save(update_fields=changed)
    record_event(
        ticket,
        TicketEvent.Kind.REPLIED,
        actor=actor,
        now=now,
        message=message,
        payload={"first_response": first},
    )
    run_change_hooks(ticket, {"reply"}, now, actor)
    return message


@atomic_with_files
def ticket_add_note(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    body: str,
    attachments: Sequence[UploadedFile] = (),
    intent: str = "",
    now: datetime | None = None,
) -> Message:
    """An internal note: progress, but not a response to the customer. `intent` as for
    `ticket_reply`."""
    now = now or timezone.now()
    ticket = _lock(ticket)
    _require_agent(ticket, actor)
    _expect_new_intent(ticket, intent)
    message = _add_message(
        ticket=ticket,
        actor=actor,
        kind=Message.Kind.NOTE,
        body=body,
        attachments=attachments,
        now=now,
        intent=intent,
    )
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=["updated_at", "version", *_progress(ticket, actor, now)])
    record_event(ticket, TicketEvent.Kind.NOTE_ADDED, actor=actor, now=now, message=message)
    run_change_hooks(ticket, {"note"}, now, actor)
    return message


@atomic_with_files
def ticket_add_customer_message(
    *,
    ticket: Ticket,
    body: str,
    author_name: str = "",
    actor: AbstractBaseUser | None = None,
    contact: Contact | None = None,
    attachments: Sequence[UploadedFile] = (),
    now: datetime | None = None,
    intent: str = "",
) -> Message:
    """A message from the customer (by mail, the portal, a phone transcript or the API). Not
    progress. `contact` is the customer's person who wrote it, where known; `intent` an
    idempotency token (a second message with the same token on the ticket is refused).

    A pending ticket goes back to open, a resolved one is reopened: the customer is waiting.
    """
    now = now or timezone.now()
    ticket = _lock(ticket)
    if ticket.status == Ticket.Status.CLOSED:
        raise TicketError({"body": _("This ticket is closed; open a new one.")})
    _expect_new_intent(ticket, intent)
    default_name = contact.name or contact.email if contact else ""
    message = _add_message(
        ticket=ticket,
        actor=actor,
        kind=Message.Kind.CUSTOMER,
        body=body,
        attachments=attachments,
        now=now,
        author_name=author_name
        or default_name
        or (ticket.customer.name if ticket.customer else ""),
        intent=intent,
        contact=contact,
    )
    changes = {"customer_message"}
    before = ticket.status
    if ticket.status == Ticket.Status.PENDING:
        ticket.resume()
        ticket.resumed_at = now
    elif ticket.status == Ticket.Status.RESOLVED:
        ticket.reopen()
        ticket.cycle_started_at = now
        changes.add("reopen")
    ticket.updated_at = now
    ticket.version += 1
    ticket.save()
    record_event(ticket, TicketEvent.Kind.CUSTOMER_MESSAGE, actor=actor, now=now, message=message)
    if ticket.status != before:
        changes.add("status")
        record_event(
            ticket,
            TicketEvent.Kind.TRANSITIONED,
            actor=None,
            now=now,
            payload={"from": before, "to": ticket.status, "automatic": True},
        )
    run_change_hooks(ticket, changes, now, actor)
    return message


def available_transitions(ticket: Ticket, user: AbstractBaseUser) -> list[tuple[str, str]]:
    """(name, label) of the transitions `user` may run on `ticket` now, in a stable order."""
    result = []
    for t in ticket.get_available_user_status_transitions(user):
        result.append((t.name, str(t.custom.get("label", t.name))))
    order = {name: i for i, name in enumerate(TRANSITION_NAMES)}
    return sorted(result, key=lambda pair: order.get(pair[0], 99))


def stamp_transition(ticket: Ticket, name: str, now: datetime) -> None:
    """The instants a transition stamps on the ticket, and the version it moves on."""
    if name == "resolve":
        ticket.resolved_at = now
    elif name == "reopen":
        ticket.cycle_started_at = now
    elif name == "resume":
        ticket.resumed_at = now
    elif name == "close":
        ticket.closed_at = now
    ticket.updated_at = now
    ticket.version += 1


@transaction.atomic
def ticket_transition(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    name: str,
    expected_version: int | None = None,
    now: datetime | None = None,
    authorised: bool = False,
    facts: Mapping[str, Any] | None = None,
) -> Ticket:
    """Move `ticket` along its status FSM.

    Raises TransitionNotAllowed when `name` is unknown or not allowed from the current status,
    PermissionDenied when `actor` may not move the ticket (`can_move`), StaleRequest when the
    ticket is no longer at `expected_version`. `authorised`: the caller has checked a wider
    right than `can_move` (an incident manager resolving the incident's linked tickets).
    `facts`: more of the timeline entry's payload (e.g. `CUSTOMER_TOLD`).
    """
    now = now or timezone.now()
    if name not in TRANSITION_NAMES:
        raise TransitionNotAllowed(_("Unknown transition “%(name)s”.") % {"name": name})
    ticket = _lock(ticket)
    if authorised:
        expect_version(ticket, expected_version, actor)
    else:
        check_move(ticket, actor, expected_version)
    method = getattr(ticket, name)
    if not has_transition_perm(method, actor):
        meta = getattr(method, "_django_fsm", None)
        transitions = list(meta.transitions.values()) if meta is not None else []
        action = str(transitions[0].custom.get("label", name)) if transitions else name
        raise TransitionNotAllowed(
            _("“%(action)s” is not possible while the ticket is in status “%(status)s”.")
            % {"action": action, "status": ticket.get_status_display()}
        )
    check_transition(ticket, name)
    before = ticket.status
    method()
    stamp_transition(ticket, name, now)
    _progress(ticket, actor, now)
    ticket.save()
    record_event(
        ticket,
        TicketEvent.Kind.TRANSITIONED,
        actor=actor,
        now=now,
        payload={**(facts or {}), "from": before, "to": ticket.status, "transition": name},
    )
    run_change_hooks(ticket, {"status", name}, now, actor)
    return ticket


# What a customer's contact may do to the status of a ticket they see: say the problem is
# solved (an active ticket is resolved, a resolved one closed) and take a solution back.
CONTACT_TRANSITIONS = ("resolve", "close", "reopen")


@transaction.atomic
def ticket_transition_by_contact(
    *,
    ticket: Ticket,
    contact: Contact,
    name: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move `ticket` along its status FSM for the customer's `contact` (the portal).

    The actor is not a user: the timeline entry names the contact in its payload, and the
    change is not agent progress. Only `CONTACT_TRANSITIONS`, only on a ticket the contact
    sees (`visible_to_contact`, else PermissionDenied). Raises TransitionNotAllowed when the
    transition is not possible from the current status, StaleRequest when the ticket is no
    longer at `expected_version`. Windows (how long a solution can be taken back) are the
    caller's policy.
    """
    now = now or timezone.now()
    if name not in CONTACT_TRANSITIONS:
        raise TransitionNotAllowed(_("Unknown transition “%(name)s”.") % {"name": name})
    ticket = _lock(ticket)
    if not Ticket.objects.visible_to_contact(contact).filter(pk=ticket.pk).exists():
        raise PermissionDenied(_("You may not change this ticket."))
    if expected_version is not None and ticket.version != expected_version:
        raise StaleRequest(_("This ticket has changed meanwhile; nothing was done."))
    method = getattr(ticket, name)
    if not can_proceed(method):
        raise TransitionNotAllowed(
            _("This is not possible while the ticket is in status “%(status)s”.")
            % {"status": ticket.get_status_display()}
        )
    check_transition(ticket, name, by_contact=True)
    before = ticket.status
    method()
    stamp_transition(ticket, name, now)
    ticket.save()
    record_event(
        ticket,
        TicketEvent.Kind.TRANSITIONED,
        actor=None,
        now=now,
        payload={
            "from": before,
            "to": ticket.status,
            "transition": name,
            "contact": contact.pk,
            "by_contact": contact.email,
        },
    )
    run_change_hooks(ticket, {"status", name}, now, None)
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    assignee: AbstractBaseUser | None,
    team: Team | None = None,
    now: datetime | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Give the ticket to `assignee` and/or another `team` (a hand-off when the team changes).

    Moving to another team sets the team's level and starts a new escalation cycle. Raises
    PermissionDenied unless `actor` may move the ticket (`can_move`), StaleRequest when the
    ticket is no longer at `expected_version`.
    """
    now = now or timezone.now()
    ticket = _lock(ticket)
    check_move(ticket, actor, expected_version)
    if not ticket.is_active:
        raise TicketError({"assignee": _("Only active tickets can be reassigned.")})
    new_team = team or ticket.team
    if not new_team.is_active:
        raise TicketError({"team": _("This team is not active.")})
    _validate_assignee(new_team, assignee)
    changes: set[str] = set()
    if new_team.pk != ticket.team_id:
        changes |= _move_to_team(ticket, new_team, actor=actor, now=now, reason=reason)
    if (assignee.pk if assignee else None) != ticket.assignee_id:
        changes |= _set_assignee(ticket, assignee, actor=actor, now=now, reason=reason)
    if not changes:
        return ticket
    ticket.updated_at = now
    ticket.version += 1
    _progress(ticket, actor, now)
    ticket.save()
    run_change_hooks(ticket, changes, now, actor)
    return ticket


def _move_to_team(
    ticket: Ticket,
    team: Team,
    *,
    actor: AbstractBaseUser | None,
    now: datetime,
    reason: str,
    keep_level: bool = False,
    reason_facts: dict[str, Any] | None = None,
) -> set[str]:
    """A hand-off: the ticket takes the team's level (unless `keep_level`) and starts a new
    escalation cycle."""
    old_team, old_level = ticket.team, ticket.level
    ticket.team = team
    ticket.level = old_level if keep_level else team.level
    ticket.escalation_cycle += 1
    ticket.cycle_started_at = now
    changes = {"team"}
    record_event(
        ticket,
        TicketEvent.Kind.TEAM_CHANGED,
        actor=actor,
        now=now,
        payload={"from": old_team.name, "to": team.name, "reason": reason}
        | ({"reason_facts": reason_facts} if reason_facts else {}),
    )
    if old_level.pk != ticket.level_id:
        changes.add("level")
        record_event(
            ticket,
            TicketEvent.Kind.LEVEL_CHANGED,
            actor=actor,
            now=now,
            payload={"from": old_level.rank, "to": ticket.level.rank},
        )
    return changes


def _set_assignee(
    ticket: Ticket,
    assignee: AbstractBaseUser | None,
    *,
    actor: AbstractBaseUser | None,
    now: datetime,
    reason: str,
    reason_facts: dict[str, Any] | None = None,
) -> set[str]:
    old = ticket.assignee
    ticket.assignee = assignee
    record_event(
        ticket,
        TicketEvent.Kind.ASSIGNED,
        actor=actor,
        now=now,
        payload={"from": user_label(old), "to": user_label(assignee), "reason": reason}
        | ({"reason_facts": reason_facts} if reason_facts else {}),
    )
    return {"assignee"}


@transaction.atomic
def ticket_change_priority(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser | None,
    reason: str,
    priority: int | None = None,
    impact: int | None = None,
    urgency: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Re-assess a ticket. New impact/urgency re-derive the priority from the matrix; an
    explicit `priority` overrides the matrix. A reason is always required (audit trail).
    A person must be allowed to move the ticket (`can_move`); the rules (`actor` None) may.
    StaleRequest when the ticket is no longer at `expected_version`.
    """
    now = now or timezone.now()
    if not reason.strip():
        raise TicketError({"reason": _("Say why the priority changes.")})
    ticket = _lock(ticket)
    if actor is not None:
        check_move(ticket, actor, expected_version)
    if not ticket.is_active:
        raise TicketError({"priority": _("Only active tickets can be re-prioritised.")})
    before = {"priority": ticket.priority, "impact": ticket.impact, "urgency": ticket.urgency}
    if impact is not None:
        ticket.impact = impact
    if urgency is not None:
        ticket.urgency = urgency
    if priority is not None:
        if priority not in Priority.values:
            raise TicketError({"priority": _("Unknown priority.")})
        derived = derive_ticket_priority(ticket.impact, ticket.urgency)
        ticket.priority = priority
        ticket.priority_overridden = priority != derived
    elif impact is not None or urgency is not None:
        ticket.priority = derive_ticket_priority(ticket.impact, ticket.urgency)
        ticket.priority_overridden = False
    after = {"priority": ticket.priority, "impact": ticket.impact, "urgency": ticket.urgency}
    if after == before:
        return ticket
    ticket.updated_at = now
    ticket.version += 1
    ticket.save()
    record_event(
        ticket,
        TicketEvent.Kind.PRIORITY_CHANGED,
        actor=actor,
        now=now,
        payload={"from": before, "to": after, "reason": reason.strip()},
    )
    run_change_hooks(ticket, {"priority"}, now, actor)
    return ticket


# What `ticket_update_details` may change, in the order the timeline lists them.
DETAIL_FIELDS = ("subject", "description", "service", "requester")


@transaction.atomic
def ticket_update_details(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Correct what a ticket is about: its `subject`, `description`, affected `service` and
    `requester` (a contact of the ticket's customer, or of any customer when it has none; the
    ticket then takes the contact's customer). Only keys of DETAIL_FIELDS are accepted.

    The same right as moving the ticket (`can_move`), checked like every move; StaleRequest
    when the ticket is no longer at `expected_version`. One `details_changed` event lists the
    fields with their old and new values; nothing changes (and nothing is recorded) when the
    values are the same.
    """
    now = now or timezone.now()
    unknown = set(changes) - set(DETAIL_FIELDS)
    if unknown:
        raise TicketError({name: _("This field cannot be changed here.") for name in unknown})
    ticket = _lock(ticket)
    check_move(ticket, actor, expected_version)
    if "subject" in changes and not str(changes["subject"] or "").strip():
        raise TicketError({"subject": _("A subject is required.")})
    requester = changes.get("requester")
    if requester is not None:
        if not requester.is_active:
            raise TicketError({"requester": _("This contact is not active.")})
        if ticket.customer_id is not None and requester.customer_id != ticket.customer_id:
            raise TicketError({"requester": _("Choose a contact of the ticket's customer.")})
    service = changes.get("service")
    if service is not None and not service.is_active:
        raise TicketError({"service": _("This service is not active.")})
    changed: dict[str, dict[str, Any]] = {}
    for name in DETAIL_FIELDS:
        if name not in changes:
            continue
        new = changes[name]
        if name == "subject":
            new = str(new).strip()
        if name in ("service", "requester"):
            old_value, new_value = getattr(ticket, f"{name}_id"), new.pk if new else None
        else:
            old_value, new_value = getattr(ticket, name), new
        if old_value == new_value:
            continue
        changed[name] = {"from": old_value, "to": new_value}
        setattr(ticket, name, new)
    if not changed:
        return ticket
    if "requester" in changed and requester is not None and ticket.customer_id is None:
        ticket.customer_id = requester.customer_id
    ticket.updated_at = now
    ticket.version += 1
    ticket.save()
    record_event(ticket, TicketEvent.Kind.DETAILS_CHANGED, actor=actor, now=now, payload=changed)
    run_change_hooks(ticket, set(changed), now, actor)
    return ticket


@transaction.atomic
def ticket_follow(
    *, ticket: Ticket, actor: AbstractBaseUser, follow: bool = True, now: datetime | None = None
) -> Ticket:
    """Add `actor` to (or remove from) the ticket's followers; they are told of its changes.

    Only agents who can see the ticket may follow it: following must not become a way
    around `visible_to`. Unfollowing is always allowed.
    """
    now = now or timezone.now()
    ticket = _lock(ticket)
    if not is_agent(actor):
        raise PermissionDenied(_("Only agents can follow tickets."))
    if follow and not can_work_ticket(ticket, actor):
        raise PermissionDenied(_("You may not follow this ticket."))
    is_following = ticket.watchers.filter(pk=actor.pk).exists()
    if follow == is_following:
        return ticket
    if follow:
        ticket.watchers.add(actor)
    else:
        ticket.watchers.remove(actor)
    record_event(
        ticket,
        TicketEvent.Kind.FOLLOWED if follow else TicketEvent.Kind.UNFOLLOWED,
        actor=actor,
        now=now,
    )
    return ticket


@transaction.atomic
def ticket_hand_off(
    *,
    ticket: Ticket,
    team: Team,
    actor: AbstractBaseUser | None,
    keep_assignee: bool = False,
    keep_level: bool = False,
    reason: str = "",
    reason_facts: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move the ticket to `team` (and its level) as part of an escalation or de-escalation.

    Unlike `ticket_assign`, the actor may be the system (None); permission checks belong to
    the escalation service that calls this. A new escalation cycle starts. The assignee is
    cleared unless `keep_assignee` (the receiving team picks the ticket up). A lateral
    (functional) hand-off passes `keep_level`: another team joins on the same level, so the
    ticket keeps its level (a functional team's level only says where tickets created
    directly in it start). `reason_facts`: the reason as values (a rule's), kept in the
    timeline entries next to its words so that readers see it in their language.
    """
    now = now or timezone.now()
    ticket = _lock(ticket)
    if team.pk == ticket.team_id:
        return ticket
    changes = {"handoff"} | _move_to_team(
        ticket,
        team,
        actor=actor,
        now=now,
        reason=reason,
        keep_level=keep_level,
        reason_facts=reason_facts,
    )
    if not keep_assignee and ticket.assignee_id is not None:
        changes |= _set_assignee(
            ticket, None, actor=actor, now=now, reason=reason, reason_facts=reason_facts
        )
    ticket.updated_at = now
    ticket.version += 1  # a form made before the hand-off no longer holds (once per intent)
    _progress(ticket, actor, now)
    ticket.save()
    run_change_hooks(ticket, changes, now, actor)
    return ticket


@transaction.atomic
def ticket_mark_major_incident(
    *, ticket: Ticket, actor: AbstractBaseUser | None, reason: str, now: datetime | None = None
) -> Ticket:
    """Flag the ticket as a major incident (incident team, management informed)."""
    now = now or timezone.now()
    ticket = _lock(ticket)
    if ticket.is_major_incident:
        return ticket
    ticket.is_major_incident = True
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=["is_major_incident", "updated_at", "version"])
    record_event(
        ticket, TicketEvent.Kind.MAJOR_INCIDENT, actor=actor, now=now, payload={"reason": reason}
    )
    run_change_hooks(ticket, {"major_incident"}, now, actor)
    return ticket


@transaction.atomic
def ticket_change_service(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    service: Service | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Set the ticket's affected service (None: none). Any agent who works on the ticket may
    (`can_work_ticket`); StaleRequest when the ticket is no longer at `expected_version`."""
    now = now or timezone.now()
    ticket = _lock(ticket)
    _require_agent(ticket, actor)
    expect_version(ticket, expected_version, actor)
    new_id = service.pk if service is not None else None
    if ticket.service_id == new_id:
        return ticket
    before = ticket.service.name if ticket.service_id else None
    ticket.service = service
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=["service", "updated_at", "version"])
    record_event(
        ticket,
        TicketEvent.Kind.SERVICE_CHANGED,
        actor=actor,
        now=now,
        payload={"from": before, "to": service.name if service is not None else None},
    )
    run_change_hooks(ticket, {"service"}, now, actor)
    return ticket
