"""The agent workspace over the ticket list: views (built in, and those a user saves from any
filter) with their counts, and bulk actions.

A view is nothing but a query string of the list (`forms.TicketFilterForm`): the built-in
ones are fixed strings, a saved one is stored validated and normalised. Counting them all is
one aggregate query (`selectors.view_counts`).

Bulk actions run the ticket services (`tickets.services`) once per ticket, each in its own
transaction: what may be done is done, and every ticket that was refused is reported with
the reason (not allowed to move it, status change not possible, changed in the meantime).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from tickets import selectors, services
from tickets.forms import TicketFilterForm
from tickets.models import SavedView, SupportLevel, Team, Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django_stubs_ext import StrOrPromise

_ACTIVE = "&".join(f"status={s}" for s in Ticket.ACTIVE_STATUSES)

# (slug, name, query string): the views every agent has. "Due soonest" first in each.
BUILTIN_VIEWS: tuple[tuple[str, StrOrPromise, str], ...] = (
    ("mine", gettext_lazy("My open"), f"scope=mine&{_ACTIVE}&sort=due"),
    (
        "team-unassigned",
        gettext_lazy("My team's unassigned"),
        f"scope=teams&{_ACTIVE}&unassigned=1&sort=due",
    ),
    ("at-risk", gettext_lazy("At risk"), "sla=at_risk&sort=due"),
    ("escalated", gettext_lazy("Escalated to my team"), "scope=teams&escalated=1&sort=due"),
    ("waiting", gettext_lazy("Waiting on me"), "scope=mine&waiting=1&sort=due"),
)

# A user keeps at most this many saved views (each is counted on every list page).
SAVED_VIEW_LIMIT = 20

# A bulk action changes at most this many tickets at once (a page of the list is 50).
BULK_LIMIT = 100


@dataclass(frozen=True)
class BulkDestination:
    """Another app's page the ticked tickets of the list can be taken to (major incidents:
    "Link to a major incident"), registered from its `AppConfig.ready` so that this app never
    imports it. `may(user)` says whom the button is shown to; the page checks again."""

    label: StrOrPromise
    url_name: str
    may: Callable[[AbstractBaseUser], bool]


_bulk_destinations: list[BulkDestination] = []


def register_bulk_destination(destination: BulkDestination) -> None:
    if destination not in _bulk_destinations:
        _bulk_destinations.append(destination)


def bulk_destinations(user: AbstractBaseUser) -> list[tuple[StrOrPromise, str]]:
    """(label, URL) of the destinations `user` may take ticked tickets to."""
    return [(d.label, reverse(d.url_name)) for d in _bulk_destinations if d.may(user)]


def parse_query(
    query: str, *, teams: Sequence[Team], levels: Sequence[SupportLevel]
) -> TicketFilterForm:
    """The list's filter form bound to `query`, validated without a query of its own."""
    form = TicketFilterForm(QueryDict(query), teams=teams, levels=levels)
    form.is_valid()  # invalid values are dropped; the rest still filters
    return form


@functools.cache
def _builtin_view(query: str) -> tuple[str, selectors.TicketFilters]:
    """A built-in view's normalised query and filters, parsed once per process: it names no
    team or level, so they depend on nothing that changes (the filters are immutable). The
    list shows the counts on every page; six filter forms per page were a tenth of its CPU."""
    form = parse_query(query, teams=(), levels=())
    return form.query_string(), form.filters()


def workspace_views(
    user: AbstractBaseUser,
    *,
    teams: Sequence[Team],
    levels: Sequence[SupportLevel],
) -> list[selectors.ViewCount]:
    """The built-in views, then the user's saved views, each with its count: two queries
    (the saved views, the counts) however many views and tickets."""
    views: list[tuple[str, str, str, selectors.TicketFilters, int | None]] = []
    for slug, name, query in BUILTIN_VIEWS:
        normalised, filters = _builtin_view(query)
        views.append((f"builtin:{slug}", str(name), normalised, filters, None))
    for saved in SavedView.objects.filter(user=user).order_by("name", "pk"):
        form = parse_query(saved.query, teams=teams, levels=levels)
        views.append((f"saved:{saved.pk}", saved.name, saved.query, form.filters(), saved.pk))
    return selectors.view_counts(user, views)


@transaction.atomic
def saved_view_save(
    *,
    user: AbstractBaseUser,
    name: str,
    query: str,
    teams: Sequence[Team],
    levels: Sequence[SupportLevel],
) -> SavedView:
    """Save the list's filters `query` under `name` for `user`; a view of the same name is
    replaced (saving twice has one effect). The query is validated against the list's filter
    form and stored normalised: invalid values and page cursors are dropped.

    Raises ValidationError for an empty name, or when the user already has
    `SAVED_VIEW_LIMIT` views."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    normalised = parse_query(query, teams=teams, levels=levels).query_string()
    existing = SavedView.objects.select_for_update().filter(user=user, name=name).first()
    if existing is not None:
        existing.query = normalised
        existing.save(update_fields=["query"])
        return existing
    if SavedView.objects.filter(user=user).count() >= SAVED_VIEW_LIMIT:
        raise ValidationError(
            {
                "name": _("You have %(limit)d saved views already; delete one first.")
                % {"limit": SAVED_VIEW_LIMIT}
            }
        )
    try:
        with transaction.atomic():
            return SavedView.objects.create(user=user, name=name, query=normalised)
    except IntegrityError:
        # The same name saved at the same moment (a double submit): that one stands.
        return SavedView.objects.get(user=user, name=name)


@transaction.atomic
def saved_view_delete(*, user: AbstractBaseUser, pk: int) -> bool:
    """Delete the user's saved view `pk`; False when there is none (deleted already, or
    someone else's)."""
    deleted, _rows = SavedView.objects.filter(user=user, pk=pk).delete()
    return deleted > 0


# --- Bulk actions -----------------------------------------------------------------------------


class BulkAction:
    ASSIGN = "assign"
    TRANSITION = "transition"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"


@dataclass(frozen=True)
class BulkOutcome:
    """What became of one ticket of a bulk action: done, or refused and why."""

    reference: str
    done: bool
    reason: str = ""


def refusal_text(error: Exception) -> tuple[int, str]:
    """The HTTP status and the sentence for a request the ticket's rules refuse: the same
    words on the ticket page (`views.refused`) and in a bulk action's report."""
    if isinstance(error, services.StaleRequest):
        return 409, str(error)
    if isinstance(error, PermissionDenied):
        return 403, str(error) or _("You may not work on this ticket.")
    if isinstance(error, ConcurrentTransition):
        return 409, _("Someone else changed this ticket at the same time. Please try again.")
    if isinstance(error, TransitionNotAllowed):
        return 409, str(error) or _("This status change is not possible now.")
    return 400, " ".join(getattr(error, "messages", [str(error)]))


REFUSALS = (
    PermissionDenied,
    TransitionNotAllowed,
    ConcurrentTransition,
    services.StaleRequest,
    ValidationError,
)


def bulk_apply(
    *,
    actor: AbstractBaseUser,
    action: str,
    items: Sequence[tuple[str, int | None]],
    transition: str = "",
    team: Team | None = None,
    assignee: AbstractBaseUser | None = None,
    reason: str = "",
) -> list[BulkOutcome]:
    """Run `action` on each ticket of `items` (reference, the version the list showed) through
    the ticket services, one transaction per ticket, and report each one.

    `transition`: the status change's name for TRANSITION. For ASSIGN: `team` (None keeps each
    ticket's own team) and `assignee` (None leaves it unassigned). A ticket the actor cannot
    see is reported as not found, like a 404 on its page; one that changed since the list was
    shown is refused as stale (its version moved), so a bulk action never acts on a state the
    agent did not see."""
    if len(items) > BULK_LIMIT:
        raise ValidationError(
            _("Choose at most %(limit)d tickets at once.") % {"limit": BULK_LIMIT}
        )
    references = [reference for reference, _version in items]
    found = {
        t.reference: t
        for t in Ticket.objects.visible_to(actor)
        .select_related("team", "level")
        .filter(reference__in=references)
    }
    outcomes = []
    for reference, version in items:
        ticket = found.get(reference)
        if ticket is None:
            outcomes.append(BulkOutcome(reference, False, _("No such ticket.")))
            continue
        try:
            _bulk_one(
                ticket=ticket,
                actor=actor,
                action=action,
                version=version,
                transition=transition,
                team=team,
                assignee=assignee,
                reason=reason,
            )
        except REFUSALS as exc:
            outcomes.append(BulkOutcome(reference, False, refusal_text(exc)[1]))
        else:
            outcomes.append(BulkOutcome(reference, True))
    return outcomes


def _bulk_one(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    action: str,
    version: int | None,
    transition: str,
    team: Team | None,
    assignee: AbstractBaseUser | None,
    reason: str,
) -> None:
    if action == BulkAction.TRANSITION:
        services.ticket_transition(
            ticket=ticket, actor=actor, name=transition, expected_version=version
        )
    elif action == BulkAction.ASSIGN:
        services.ticket_assign(
            ticket=ticket,
            actor=actor,
            team=team or ticket.team,
            assignee=assignee,
            reason=reason,
            expected_version=version,
        )
    elif action in (BulkAction.FOLLOW, BulkAction.UNFOLLOW):
        # Following does not move the ticket: no version check, as on the ticket page.
        services.ticket_follow(ticket=ticket, actor=actor, follow=action == BulkAction.FOLLOW)
    else:
        raise ValidationError(_("Choose an action."))
