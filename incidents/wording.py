"""The incident timeline in words: entries store facts, they are worded for the reader."""

from __future__ import annotations

from django.utils.translation import gettext, ngettext

from incidents.models import IncidentEvent, IncidentLink, IncidentUpdate, MajorIncident
from tickets.models import Service
from tickets.priority import Priority

IE = IncidentEvent.Kind


def _label(choices: type, value: object) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _service_name(pk: object) -> str:
    service = Service.objects.filter(pk=pk).first()
    return service.display_name if service else str(pk)


def describe_event(event: IncidentEvent) -> str:
    """One sentence in the active language."""
    p = event.payload
    match event.kind:
        case IE.DECLARED:
            return gettext("Declared as %(severity)s.") % {
                "severity": _label(Priority, p.get("severity"))
            }
        case IE.LINKED:
            refs = p.get("tickets", [])
            return ngettext(
                "%(count)d ticket linked (%(how)s): %(refs)s",
                "%(count)d tickets linked (%(how)s): %(refs)s",
                len(refs),
            ) % {
                "count": len(refs),
                "how": _label(IncidentLink.Source, p.get("source")),
                "refs": ", ".join(refs[:20]) + (" …" if len(refs) > 20 else ""),
            }
        case IE.UNLINKED:
            return gettext("%(ref)s unlinked.") % {"ref": p.get("ticket", "")}
        case IE.UPDATE_SENT:
            count = int(p.get("tickets", 0) or 0)
            return ngettext(
                "%(kind)s sent to %(count)d ticket.",
                "%(kind)s sent to %(count)d tickets.",
                count,
            ) % {"kind": _label(IncidentUpdate.Kind, p.get("kind")), "count": count}
        case IE.STATUS_CHANGED:
            return gettext("Status: %(from)s → %(to)s") % {
                "from": _label(MajorIncident.Status, p.get("from")),
                "to": _label(MajorIncident.Status, p.get("to")),
            }
        case IE.SERVICE_STATUS:
            return gettext("%(service)s: %(from)s → %(to)s") % {
                "service": _service_name(p.get("service")),
                "from": _label(Service.Status, p.get("from")),
                "to": _label(Service.Status, p.get("to")),
            }
        case IE.UPDATE_DUE:
            return gettext("Reminder: the next update is due soon.")
        case IE.UPDATE_MISSED:
            return gettext("The update was due and is missing.")
        case IE.MANAGEMENT_TOLD:
            count = len(p.get("users", []))
            return ngettext(
                "Management informed (%(count)d person).",
                "Management informed (%(count)d people).",
                count,
            ) % {"count": count}
        case IE.RESOLVED:
            count = int(p.get("tickets", 0) or 0)
            return ngettext(
                "Resolved; %(count)d linked ticket resolved with the closing report.",
                "Resolved; %(count)d linked tickets resolved with the closing report.",
                count,
            ) % {"count": count}
    return event.get_kind_display()
