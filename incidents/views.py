"""HTML views of major incidents and business services. Thin: parse input, check access,
call `incidents.services`, render.

Agents see incidents and services; running them (declare, link, update, resolve, a service's
status) is for leads of level 2 and above, the incident management team and admins
(`can_run_incidents`). A refused request is a 403, a request from a stale page or a double
submit a 409, invalid input the form again with a 422 — never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from incidents import selectors, services
from incidents.forms import (
    DeclareForm,
    LinkForm,
    LinkFromListForm,
    ResolveForm,
    ServiceStatusForm,
    UpdateForm,
)
from incidents.models import IncidentLink, MajorIncident, ServiceStatusChange, WaveFiring
from incidents.pins import PROPOSALS_SHOWN_FOR
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.forms import TicketServiceForm, add_service_error
from tickets.models import Service, Ticket
from tickets.services import StaleRequest
from tickets.workspace import BULK_LIMIT


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _require_agent(request: HttpRequest) -> None:
    if not selectors.is_agent_user(request.user):
        raise Http404


def _refused(request: HttpRequest, error: Exception, status: int) -> HttpResponse:
    if isinstance(error, ValidationError):
        text = " ".join(error.messages)
    else:
        text = str(error) or _("You may not do this.")
    return render(request, "incidents/refused.html", {"text": text}, status=status)


def _incident(request: HttpRequest, pk: int) -> MajorIncident:
    _require_agent(request)
    return get_object_or_404(selectors.incidents_for(request.user), pk=pk)


@login_required
@require_safe
def incident_list(request: HttpRequest) -> HttpResponse:
    _require_agent(request)
    incidents = selectors.incidents_for(request.user)
    since = timezone.now() - PROPOSALS_SHOWN_FOR
    return render(
        request,
        "incidents/list.html",
        {
            "open": selectors.open_incidents_for(request.user),
            "resolved": incidents.filter(status=MajorIncident.Status.RESOLVED)[:20],
            "proposals": WaveFiring.objects.filter(incident__isnull=True, fired_at__gte=since)
            .select_related("rule", "service")
            .order_by("-fired_at")[:20],
            "can_run": selectors.can_run_incidents(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def incident_declare(request: HttpRequest) -> HttpResponse:
    """Declare from scratch, or from a ticket (`?ticket=<reference>`)."""
    _require_agent(request)
    if not selectors.can_run_incidents(request.user):
        return _refused(request, PermissionDenied(_("You may not declare major incidents.")), 403)
    reference = request.POST.get("ticket") or request.GET.get("ticket") or ""
    ticket = ticket_selectors.ticket_for_user(request.user, reference) if reference else None
    if request.method == "POST":
        form = DeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_declare(
                    actor=request.user,
                    title=data["title"],
                    severity=data["severity"],
                    manager=data["manager"],
                    services=data["services"],
                    source_ticket=ticket,
                    started_at=data["started_at"],
                    service_impact=data["service_impact"],
                    link_source=IncidentLink.Source.DECLARATION,
                )
            except PermissionDenied as exc:
                return _refused(request, exc, 403)
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(
                    request, _("Major incident %(ref)s declared.") % {"ref": incident.reference}
                )
                return redirect(incident)
        return render(
            request, "incidents/declare.html", {"form": form, "ticket": ticket}, status=422
        )
    initial: dict[str, Any] = {"manager": request.user.pk}
    if ticket is not None:
        initial.update(
            title=ticket.subject,
            severity=ticket.priority,
            services=[ticket.service_id] if ticket.service_id else [],
            started_at=timezone.localtime(ticket.created_at).replace(second=0, microsecond=0),
            ticket=ticket.reference,
        )
    return render(
        request, "incidents/declare.html", {"form": DeclareForm(initial=initial), "ticket": ticket}
    )


def _detail_context(request: HttpRequest, incident: MajorIncident, **forms: Any) -> dict[str, Any]:
    version = {"version": incident.version}
    return {
        "incident": incident,
        "links": selectors.linked_tickets(incident),
        "updates": incident.updates.select_related("author")[:50],
        "events": incident.events.select_related("actor").order_by("-created_at", "-pk")[:200],
        "can_run": selectors.can_run_incidents(request.user),
        "update_form": forms.get("update_form")
        or UpdateForm(initial={**version, "status": incident.status}),
        "resolve_form": forms.get("resolve_form") or ResolveForm(initial=version),
    }


@login_required
@require_safe
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    return render(request, "incidents/detail.html", _detail_context(request, incident))


def _incident_form(
    request: HttpRequest,
    pk: int,
    form_class: type[UpdateForm] | type[ResolveForm],
    form_key: str,
    act: Callable[[MajorIncident, dict[str, Any]], str],
) -> HttpResponse:
    """Post an incident form: `act` calls the service and returns the success message. A
    refusal is a 403 or 409; invalid input the page again with the form's errors (422)."""
    incident = _incident(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            done = act(incident, form.cleaned_data)
        except PermissionDenied as exc:
            return _refused(request, exc, 403)
        except StaleRequest as exc:
            return _refused(request, exc, 409)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, done)
            return redirect(incident)
    incident.refresh_from_db()
    context = _detail_context(request, incident, **{form_key: form})
    return render(request, "incidents/detail.html", context, status=422)


@login_required
@require_POST
def incident_update(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident: MajorIncident, data: dict[str, Any]) -> str:
        update = services.incident_post_update(
            incident=incident,
            actor=request.user,
            text=data["text"],
            status=data["status"],
            intent=data["intent"] or "",
            expected_version=data["version"],
        )
        return _("Update sent to %(count)d linked tickets.") % {"count": update.recipients}

    return _incident_form(request, pk, UpdateForm, "update_form", act)


@login_required
@require_POST
def incident_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident: MajorIncident, data: dict[str, Any]) -> str:
        services.incident_resolve(
            incident=incident,
            actor=request.user,
            intent=data["intent"] or "",
            expected_version=data["version"],
            **{name: data[name] for name in (*MajorIncident.CLOSING_FIELDS, "text")},
        )
        return _(
            "The incident is resolved; its linked tickets were resolved with the closing report."
        )

    return _incident_form(request, pk, ResolveForm, "resolve_form", act)


@login_required
@require_http_methods(["GET", "POST"])
def incident_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link tickets in bulk: the suggestions (same service, similar subjects, last hours) as a
    list to tick, plus references typed in."""
    incident = _incident(request, pk)
    if not selectors.can_run_incidents(request.user):
        return _refused(request, PermissionDenied(_("You may not link tickets to incidents.")), 403)
    candidates = selectors.suggestions(incident, request.user) if incident.is_open else []
    form = LinkForm(request.POST or None, candidates=candidates)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            ids = {int(pk) for pk in form.cleaned_data["tickets"]}
            visible = Ticket.objects.visible_to(request.user)
            tickets = list(visible.filter(pk__in=ids))
            typed = form.references_list()
            found = list(visible.filter(reference__in=typed))
            unknown = sorted(set(typed) - {t.reference for t in found})
            if unknown:
                form.add_error(
                    "references", _("Not found: %(refs)s") % {"refs": ", ".join(unknown)}
                )
            elif not tickets and not found:
                form.add_error(None, _("Choose at least one ticket."))
            else:
                source = (
                    IncidentLink.Source.MANUAL
                    if found and not tickets
                    else IncidentLink.Source.SUGGESTION
                )
                try:
                    links = services.incident_link(
                        incident=incident,
                        tickets=tickets + found,
                        actor=request.user,
                        source=source,
                    )
                except PermissionDenied as exc:
                    return _refused(request, exc, 403)
                except ValidationError as exc:
                    add_service_error(form, exc)
                else:
                    messages.success(
                        request, _("%(count)d tickets linked.") % {"count": len(links)}
                    )
                    return redirect(incident)
    return render(
        request,
        "incidents/link.html",
        {"incident": incident, "form": form, "candidates": candidates},
        status=status,
    )


def ticked_references(data: QueryDict) -> list[str]:
    """The references of the tickets ticked in the ticket list ("REFERENCE:version" each, as
    the list's bulk form sends them), each once, in order, at most a bulk action's worth."""
    references: list[str] = []
    for raw in data.getlist("tickets"):
        reference = str(raw).partition(":")[0].strip().upper()
        if reference and reference not in references:
            references.append(reference)
    return references[:BULK_LIMIT]


@login_required
@require_http_methods(["GET", "POST"])
def link_from_list(request: HtmxHttpRequest) -> HttpResponse:
    """Link the tickets ticked in the ticket list to an open incident. The list's button posts
    the ticked tickets here and is redirected to this page's own address (the tickets in the
    query string, no form token), where the incident is chosen; choosing it links them all."""
    _require_agent(request)
    if not selectors.can_run_incidents(request.user):
        return _refused(request, PermissionDenied(_("You may not link tickets to incidents.")), 403)
    choosing = request.method == "POST" and "incident" in request.POST
    references = ticked_references(request.POST if request.method == "POST" else request.GET)
    if request.method == "POST" and not choosing:
        query = urlencode([("tickets", reference) for reference in references])
        url = f"{reverse('incidents:link_from_list')}?{query}"
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    found = {
        t.reference: t
        for t in Ticket.objects.visible_to(request.user)
        .select_related("service", "customer")
        .filter(reference__in=references)
    }
    tickets = [found[r] for r in references if r in found]
    incidents = list(
        selectors.incidents_for(request.user)
        .filter(status__in=MajorIncident.OPEN_STATUSES)
        .order_by("severity", "pk")
    )
    form = LinkFromListForm(request.POST if choosing else None, incidents=incidents)
    status = 200
    if choosing:
        status = 422
        if not tickets:
            form.add_error(None, _("Tick the tickets to link in the ticket list first."))
        elif form.is_valid():
            incident = form.cleaned_data["incident"]
            try:
                links = services.incident_link(
                    incident=incident,
                    tickets=tickets,
                    actor=request.user,
                    source=IncidentLink.Source.BULK,
                )
            except PermissionDenied as exc:
                return _refused(request, exc, 403)
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, _("%(count)d tickets linked.") % {"count": len(links)})
                return redirect(incident)
    return render(
        request,
        "incidents/link_from_list.html",
        {
            "form": form,
            "tickets": tickets,
            "unknown": [r for r in references if r not in found],
            "incidents": incidents,
        },
        status=status,
    )


@login_required
@require_POST
def incident_unlink(request: HttpRequest, pk: int, reference: str) -> HttpResponse:
    incident = _incident(request, pk)
    ticket = get_object_or_404(
        Ticket.objects.filter(incident_links__incident=incident).distinct(), reference=reference
    )
    try:
        services.incident_unlink(incident=incident, ticket=ticket, actor=request.user)
    except PermissionDenied as exc:
        return _refused(request, exc, 403)
    except ValidationError as exc:
        return _refused(request, exc, 409)
    messages.success(
        request, _("%(ref)s unlinked: its own escalation clock runs again.") % {"ref": reference}
    )
    return redirect(incident)


@login_required
@require_POST
def wave_declare(request: HttpRequest, pk: int) -> HttpResponse:
    """The one click on a wave the trigger proposed."""
    _require_agent(request)
    firing = get_object_or_404(WaveFiring, pk=pk)
    try:
        incident = services.incident_declare_from_wave(firing=firing, actor=request.user)
    except PermissionDenied as exc:
        return _refused(request, exc, 403)
    except StaleRequest as exc:
        return _refused(request, exc, 409)
    except ValidationError as exc:
        return _refused(request, exc, 400)
    messages.success(request, _("Major incident %(ref)s declared.") % {"ref": incident.reference})
    return redirect(incident)


@login_required
@require_safe
def service_list(request: HttpRequest) -> HttpResponse:
    _require_agent(request)
    rows = (
        Service.objects.filter(is_active=True)
        .select_related("owning_team")
        .order_by("criticality", "name")
    )
    return render(
        request,
        "incidents/services.html",
        {
            "services": rows,
            "changes": ServiceStatusChange.objects.select_related(
                "service", "changed_by", "incident"
            )[:30],
            "can_run": selectors.can_run_incidents(request.user),
            "form": ServiceStatusForm(),
        },
    )


@login_required
@require_POST
def service_status(request: HttpRequest, pk: int) -> HttpResponse:
    _require_agent(request)
    service = get_object_or_404(Service, pk=pk, is_active=True)
    form = ServiceStatusForm(request.POST)
    if not form.is_valid():
        return _refused(request, ValidationError(_("Choose a valid status.")), 400)
    try:
        services.service_change_status(
            service=service,
            status=form.cleaned_data["status"],
            actor=request.user,
            note=form.cleaned_data["note"],
        )
    except PermissionDenied as exc:
        return _refused(request, exc, 403)
    except ValidationError as exc:
        return _refused(request, exc, 400)
    messages.success(request, _("Status of %(service)s saved.") % {"service": service.display_name})
    return redirect("incidents:services")


@login_required
@require_POST
def ticket_service(request: HttpRequest, reference: str) -> HttpResponse:
    """Set a ticket's affected service from its page."""
    ticket = ticket_selectors.ticket_for_user(request.user, reference)
    form = TicketServiceForm(request.POST)
    if not form.is_valid():
        return _refused(request, ValidationError(_("Choose a valid service.")), 400)
    version = request.POST.get("version", "")
    try:
        ticket_services.ticket_change_service(
            ticket=ticket,
            actor=request.user,
            service=form.cleaned_data["service"],
            expected_version=int(version) if version.isdigit() else None,
        )
    except PermissionDenied as exc:
        return _refused(request, exc, 403)
    except StaleRequest as exc:
        return _refused(request, exc, 409)
    messages.success(request, _("Affected service saved."))
    return redirect(ticket)
