"""HTML views for escalations: raise, acknowledge, de-escalate (on the ticket page), and the
overview of open escalations. Thin: parse input, check access, call `escalation.services`.

The actions work like the ticket actions (`tickets.views`): plain POST forms with
post/redirect/get, and with htmx the ticket partial comes back. A ticket the user may not see
is a 404; a refused request is a 403 (not allowed) or a 409 (no longer possible); a form the
service rejects is a 422 with the errors on the form. Never a 500 for a user's mistake.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from escalation import services
from escalation.forms import AcknowledgeForm, DeescalateForm, EscalateForm, EscalationFilterForm
from escalation.models import Escalation
from tickets import selectors
from tickets import services as ticket_services
from tickets.forms import add_service_error
from tickets.models import Team, Ticket, agent_teams
from tickets.views import (
    REFUSALS,
    HtmxHttpRequest,
    after_action,
    expected_version,
    refused,
    render_ticket,
)


@login_required
@require_POST
def escalation_raise(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """A manual escalation with its information package, after the checklist."""
    ticket = selectors.ticket_for_user(request.user, reference)
    if not ticket_services.is_agent(request.user):
        return refused(request, ticket, PermissionDenied(_("Only agents can escalate tickets.")))
    form = EscalateForm(request.POST, ticket=ticket)
    if form.is_valid():
        try:
            escalation = services.escalation_raise(
                ticket=ticket,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                package=form.package(),
                to_team=form.target(),
                reason=form.cleaned_data["reason"],
                expected_version=expected_version(request),
            )
        except REFUSALS as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:  # EscalationError, or a TicketError of the hand-off
            add_service_error(form, exc)
        else:
            return after_action(
                request,
                ticket,
                _("The ticket has been escalated to %(team)s (%(level)s).")
                % {"team": escalation.to_team.name, "level": escalation.to_level.name},
            )
    return render_ticket(request, ticket, status=422, escalate_form=form)


@login_required
@require_POST
def escalation_acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The receiving team takes the escalation, and says whom the ticket goes to with it.
    From the overview (`back=overview`) a plain post returns to the overview."""
    escalation = _visible_escalation(request, pk)
    ticket = selectors.ticket_for_user(request.user, escalation.ticket.reference)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        return refused(request, ticket, ValidationError(_("Choose whom to assign.")))
    assignee = form.cleaned_data["assignee"]
    try:
        services.escalation_acknowledge(
            escalation=escalation,
            actor=request.user,
            assignee=assignee,
            expected_version=expected_version(request),
        )
    except (*REFUSALS, ValidationError) as exc:
        return refused(request, ticket, exc)
    if assignee is None:
        text = _("You have acknowledged the escalation for %(team)s.")
    elif assignee == request.user:
        text = _("You have acknowledged the escalation for %(team)s and taken the ticket.")
    else:
        text = _("You have acknowledged the escalation for %(team)s and assigned it to %(name)s.")
    text %= {"team": escalation.to_team.name, "name": ticket_services.user_label(assignee)}
    if request.POST.get("back") == "overview" and not request.htmx:
        messages.success(request, text)
        return redirect("escalation:list")
    return after_action(request, ticket, text)


@login_required
@require_POST
def escalation_deescalate(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The lead of the current team hands the ticket back, with a reason."""
    ticket = selectors.ticket_for_user(request.user, reference)
    try:
        # A double submit: the first hand-back took the lead's right away; say what happened.
        ticket_services.expect_version(ticket, expected_version(request), request.user)
    except ticket_services.StaleRequest as exc:
        return refused(request, ticket, exc)
    if not services.can_deescalate(ticket, request.user):
        # Checked before the form, so that someone without the right sees no form errors.
        return refused(
            request,
            ticket,
            PermissionDenied(_("Only the lead of the current team can de-escalate.")),
        )
    form = DeescalateForm(request.POST, targets=services.deescalation_targets(ticket))
    if form.is_valid():
        try:
            escalation = services.escalation_deescalate(
                ticket=ticket,
                actor=request.user,
                to_team=form.cleaned_data["to_team"],
                reason=form.cleaned_data["reason"],
                expected_version=expected_version(request),
            )
        except REFUSALS as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return after_action(
                request,
                ticket,
                _("The ticket has been handed back to %(team)s.")
                % {"team": escalation.to_team.name},
            )
    return render_ticket(request, ticket, status=422, deescalate_form=form)


def _visible_escalation(request: HttpRequest, pk: int) -> Escalation:
    """The escalation `pk` if its ticket is visible to the user; Http404 otherwise."""
    try:
        return Escalation.objects.select_related("ticket", "to_team").get(
            pk=pk, ticket__in=Ticket.objects.visible_to(request.user).values("pk")
        )
    except Escalation.DoesNotExist:
        raise Http404(_("No such escalation.")) from None


@login_required
@require_GET
def escalation_list(request: HtmxHttpRequest) -> HttpResponse:
    """Open escalations of all tickets (every agent may see who owns what; the tickets
    themselves open as the user's rights allow): waiting ones (overdue highlighted) and
    acknowledged ones, filtered by receiving team or level. Waiting rows of the user's teams
    carry the acknowledge buttons."""
    form = EscalationFilterForm(request.GET)
    form.is_valid()  # invalid values are dropped; the rest still filters
    data = getattr(form, "cleaned_data", {})
    overview = selectors.escalation_overview(
        request.user, team=data.get("team"), level=data.get("level")
    )
    template = "escalation/list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    _offer_acknowledgement(request, overview.waiting)
    context = {"form": form, "overview": overview, "now": timezone.now()}
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])  # a partial or a page at the same URL
    return response


def _offer_acknowledgement(request: HttpRequest, waiting: list[Escalation]) -> None:
    """Mark the waiting escalations the user may acknowledge (`can_ack`) and, where they lead
    the receiving team, the members they may assign it to (`ack_members`): two queries for
    the whole list, not one per row."""
    user = request.user
    teams = {t.pk: t for t in agent_teams(user).distinct()}
    led = {pk for pk, t in teams.items() if t.lead_id == user.pk}
    if user.is_superuser:
        led = {e.to_team_id for e in waiting}
    members: dict[int, list[Any]] = {}
    if led:
        through = Team.members.through.objects.filter(
            team_id__in=led, user__is_active=True
        ).select_related("user")
        for row in through.order_by("user__username"):
            if row.user_id != user.pk:
                members.setdefault(row.team_id, []).append(row.user)
    for escalation in waiting:
        escalation.can_ack = user.is_superuser or escalation.to_team_id in teams  # type: ignore[attr-defined]
        escalation.ack_members = members.get(escalation.to_team_id, [])  # type: ignore[attr-defined]
