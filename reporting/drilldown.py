"""The rows behind a figure of the reports page: the same filter the figure counts with, over
the same tickets (visible to the reader, in the chosen slices) and period, so the number on the
page and the length of the list agree.

Three kinds of rows: tickets (the figures that count tickets), escalations (the figures that
count hand-offs: escalations per level, by trigger, acknowledged, against the tier target,
hand-backs, documentation quality) and ratings (CSAT). An escalation or a rating is listed
only when its ticket is one the reader may see."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from escalation.models import Escalation
from incidents.models import IncidentLink
from portal.models import Rating
from reporting.figures import Period, within
from reporting.handoffs import (
    TRIGGER_GROUPS,
    WAVE,
    at_first_contact,
    started_first_level,
    trigger_labels,
)
from reporting.kpis import SLA_TARGETS, acknowledgement_decided, escalated_once, sla_decided
from reporting.quality import (
    complete_package,
    has_closing_report,
    ratings_of,
    reached_report_level,
    recurrent,
    with_customer_and_service,
    with_package_lengths,
)
from reporting.trends import escalations_of, handoffs_of
from tickets.models import SupportLevel, Ticket

TICKETS, ESCALATIONS, RATINGS = "tickets", "escalations", "ratings"

Narrow = Callable[[QuerySet[Ticket], Period], QuerySet]


@dataclass(frozen=True)
class Drill:
    """The rows behind a figure: `kind` says what they are (`TICKETS`, `ESCALATIONS` or
    `RATINGS`), `rows` a queryset, newest first."""

    kind: str
    title: str
    rows: QuerySet


def _created(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return tickets.filter(within("created_at", period))


def _escalated(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return _created(tickets, period).filter(escalated_once())


def _answered(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return tickets.filter(within("first_responded_at", period))


def _resolved(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return tickets.filter(within("resolved_at", period))


def _report_due(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return _resolved(tickets, period).filter(reached_report_level())


def _report_written(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return _report_due(tickets, period).filter(has_closing_report())


def _first_contact(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return started_first_level(tickets, period).filter(at_first_contact())


def _recurring(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    return with_customer_and_service(tickets, period).filter(recurrent())


def _breached(target: str) -> Narrow:
    def narrow(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
        stopped, breached = sla_decided(target, period)
        return tickets.filter(stopped & breached)

    return narrow


def _wave(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    linked = IncidentLink.objects.filter(
        within("linked_at", period), source=IncidentLink.Source.WAVE
    ).values("ticket_id")
    return tickets.filter(pk__in=linked)


def _raised(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Escalation]:
    return escalations_of(tickets).filter(within("raised_at", period))


def _documented(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Escalation]:
    return with_package_lengths(_raised(tickets, period)).filter(complete_package())


def _handbacks(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Escalation]:
    return handoffs_of(tickets).filter(
        within("raised_at", period), kind=Escalation.Kind.DE_ESCALATION
    )


def _acknowledged(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Escalation]:
    return escalations_of(tickets).filter(within("acknowledged_at", period))


def _acknowledgement(met: bool) -> Narrow:
    def narrow(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Escalation]:
        on_time, late = acknowledgement_decided(period)
        return escalations_of(tickets).filter(on_time if met else late)

    return narrow


def _trigger(group: str) -> Narrow:
    def narrow(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Escalation]:
        triggers = [str(trigger) for trigger in TRIGGER_GROUPS[group]]
        return _raised(tickets, period).filter(trigger__in=triggers)

    return narrow


def _ratings(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Rating]:
    return ratings_of(tickets, period)


def _low_ratings(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Rating]:
    return ratings_of(tickets, period).filter(score__lte=settings.PORTAL_LOW_RATING)


def _escalated_ratings(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Rating]:
    return ratings_of(tickets, period).filter(escalated=True)


# key -> (kind of rows, narrowing)
NARROW: dict[str, tuple[str, Narrow]] = {
    "created": (TICKETS, _created),
    "escalated": (TICKETS, _escalated),
    "answered": (TICKETS, _answered),
    "resolved": (TICKETS, _resolved),
    "closing_report_due": (TICKETS, _report_due),
    "closing_report_written": (TICKETS, _report_written),
    "first_contact_started": (TICKETS, started_first_level),
    "first_contact": (TICKETS, _first_contact),
    "recurrence_whole": (TICKETS, with_customer_and_service),
    "recurring": (TICKETS, _recurring),
    **{f"sla_{target}_breached": (TICKETS, _breached(target)) for target in SLA_TARGETS},
    f"trigger_{WAVE}": (TICKETS, _wave),
    "escalations": (ESCALATIONS, _raised),
    "documented": (ESCALATIONS, _documented),
    "handbacks": (ESCALATIONS, _handbacks),
    "acknowledged": (ESCALATIONS, _acknowledged),
    "acknowledgement_met": (ESCALATIONS, _acknowledgement(met=True)),
    "acknowledgement_breached": (ESCALATIONS, _acknowledgement(met=False)),
    **{f"trigger_{group}": (ESCALATIONS, _trigger(group)) for group in TRIGGER_GROUPS},
    "ratings": (RATINGS, _ratings),
    "ratings_low": (RATINGS, _low_ratings),
    "ratings_escalated": (RATINGS, _escalated_ratings),
}
# Escalations raised in the period to one receiving level: "escalations_to_<level id>".
TO_LEVEL = re.compile(r"escalations_to_(\d+)")


def level_key(level: SupportLevel) -> str:
    """The key of the escalations raised in the period to `level`."""
    return f"escalations_to_{level.pk}"


def titles() -> dict[str, str]:
    """What each list of a fixed key shows, in the reader's language."""
    labels = trigger_labels()
    return {
        "created": _("Tickets created in the period"),
        "escalated": _("Tickets created in the period and escalated at least once"),
        "answered": _("Tickets first answered in the period"),
        "resolved": _("Tickets resolved in the period"),
        "closing_report_due": _("Tickets resolved in the period that reached level 3"),
        "closing_report_written": _(
            "Tickets resolved in the period that reached level 3, with a closing report"
        ),
        "first_contact_started": _("Tickets resolved in the period that started at the 1st level"),
        "first_contact": _(
            "Tickets resolved in the period at the 1st level at first contact "
            "(never handed off, never reopened)"
        ),
        "recurrence_whole": _(
            "Tickets created in the period with a customer and an affected service"
        ),
        "recurring": _(
            "Tickets created in the period whose customer had a ticket of the same service "
            "resolved within the 30 days before"
        ),
        "sla_first_response_breached": _("First-response target breached (answered in the period)"),
        "sla_next_update_breached": _("Next-update target breached (resolved in the period)"),
        "sla_resolution_breached": _("Resolution target breached (resolved in the period)"),
        "escalations": _("Escalations raised in the period"),
        "documented": _("Escalations raised in the period with a complete information package"),
        "handbacks": _("Hand-backs raised in the period"),
        "acknowledged": _("Escalations acknowledged in the period"),
        "acknowledgement_met": _("Escalations acknowledged in the period by their deadline"),
        "acknowledgement_breached": _(
            "Escalations whose acknowledgement deadline passed in the period unacknowledged"
        ),
        **{
            f"trigger_{group}": _("Escalations raised in the period: %(trigger)s")
            % {"trigger": labels[group]}
            for group in TRIGGER_GROUPS
        },
        f"trigger_{WAVE}": _("Tickets the wave trigger linked to a major incident in the period"),
        "ratings": _("Ratings given in the period"),
        "ratings_low": _("Low ratings given in the period"),
        "ratings_escalated": _("Ratings given in the period after an escalation"),
    }


def known(key: str) -> bool:
    """Whether `key` names a list (a level's key is checked only by `drill`)."""
    return kind_of(key) is not None


def kind_of(key: str) -> str | None:
    """What the list of `key` holds (`TICKETS`, `ESCALATIONS` or `RATINGS`), None for a key
    that names no list."""
    if key in NARROW:
        return NARROW[key][0]
    return ESCALATIONS if TO_LEVEL.fullmatch(key) is not None else None


def drill(tickets: QuerySet[Ticket], period: Period, key: str) -> Drill | None:
    """The rows behind figure `key` (None for an unknown key), newest first."""
    if key in NARROW:
        kind, narrow = NARROW[key]
        rows = narrow(tickets, period)
        title = titles()[key]
    elif (found := TO_LEVEL.fullmatch(key)) is not None:
        level = SupportLevel.objects.filter(pk=int(found.group(1))).first()
        if level is None:
            return None
        kind, rows = ESCALATIONS, _raised(tickets, period).filter(to_level=level)
        title = _("Escalations raised in the period to %(level)s") % {"level": level.display_name}
    else:
        return None
    if kind == TICKETS:
        rows = rows.select_related("team", "level", "assignee").order_by("-created_at", "-pk")
    elif kind == ESCALATIONS:
        rows = rows.select_related(
            "ticket", "from_level", "to_level", "from_team", "to_team"
        ).order_by("-raised_at", "-pk")
    return Drill(kind, title, rows)
