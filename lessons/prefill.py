"""A closing report's first draft, gathered from the ticket's timeline.

What the people who handled the ticket already wrote is the best start of its report: the
information packages of its escalations (what happened, who was affected, the impact, what was
tried, the risks), the public reply that resolved it, and, when a major incident held it, the
incident's own closing report and the updates it sent. Read when the report page opens for a
ticket without a report; nothing is stored until the writer saves the form. The headings are
worded in the writer's language: the draft becomes the writer's text.
"""

from __future__ import annotations

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from escalation.models import Escalation
from incidents.models import IncidentLink, IncidentUpdate, MajorIncident
from tickets.models import Message, Ticket


def _when(value: object) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")  # type: ignore[arg-type]


def _join(parts: list[str]) -> str:
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def _incident(ticket: Ticket) -> MajorIncident | None:
    """The major incident that held `ticket` (declared from it or linked), latest first."""
    link = (
        IncidentLink.objects.filter(ticket=ticket)
        .select_related("incident")
        .order_by("-linked_at", "-pk")
        .first()
    )
    if link is not None:
        return link.incident
    return MajorIncident.objects.filter(source_ticket=ticket).order_by("-declared_at").first()


def _resolution_message(ticket: Ticket) -> Message | None:
    """The last public reply up to the resolution (the whole history when not resolved)."""
    replies = Message.objects.filter(ticket=ticket, kind=Message.Kind.REPLY)
    if ticket.resolved_at is not None:
        replies = replies.filter(created_at__lte=ticket.resolved_at)
    return replies.order_by("-created_at", "-pk").first()


def draft(ticket: Ticket) -> dict[str, str]:
    """The five text fields of a closing report for `ticket`, pre-filled from its timeline
    (empty strings where the timeline says nothing). Six queries at most, whatever the
    number of escalations and incident updates."""
    cause: list[str] = []
    impact: list[str] = []
    solution: list[str] = []
    lessons: list[str] = []
    measures: list[str] = []

    incident = _incident(ticket)
    if incident is not None:
        cause.append(incident.cause)
        solution.append(incident.solution)
        impact.append(incident.impact)
        lessons.append(incident.lessons_learned)
        measures.append(incident.preventive_measures)

    escalations = list(
        Escalation.objects.filter(ticket=ticket)
        .exclude(kind=Escalation.Kind.DE_ESCALATION)
        .select_related("to_level")
        .order_by("raised_at", "pk")
    )
    for escalation in escalations:
        package = escalation.package_text
        heading = _("Escalation to %(level)s, %(when)s") % {
            "level": escalation.to_level.display_name,
            "when": _when(escalation.raised_at),
        }
        if package.get("summary", "").strip():
            cause.append(f"{heading}: {package['summary'].strip()}")
        affected = package.get("affected", "").strip()
        told = package.get("impact", "").strip()
        if affected or told:
            impact.append(f"{heading}: " + " — ".join(p for p in (told, affected) if p))
        if package.get("actions_taken", "").strip():
            lessons.append(
                _("What was tried (%(heading)s): %(text)s")
                % {"heading": heading, "text": package["actions_taken"].strip()}
            )
        if package.get("risks", "").strip():
            measures.append(
                _("Risks named (%(heading)s): %(text)s")
                % {"heading": heading, "text": package["risks"].strip()}
            )

    if incident is not None:
        # The closing update repeats the incident's solution, already taken above.
        updates = incident.updates.exclude(kind=IncidentUpdate.Kind.CLOSING_REPORT)
        for update in updates.order_by("created_at", "pk"):
            cause.append(
                _("Incident update %(when)s (%(status)s): %(text)s")
                % {
                    "when": _when(update.created_at),
                    "status": update.get_status_display(),
                    "text": update.text.strip(),
                }
            )

    message = _resolution_message(ticket)
    if message is not None:
        solution.append(message.body)

    return {
        "cause": _join(cause),
        "solution": _join(solution),
        "impact": _join(impact),
        "lessons_learned": _join(lessons),
        "preventive_measures": _join(measures),
    }
