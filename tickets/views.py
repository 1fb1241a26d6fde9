"""HTML views for agents. Thin: parse input, check access, call a service or selector, render.

Every ticket is looked up through `selectors.ticket_for_user`, i.e. `visible_to(user)`: a
ticket the user may not see is a 404 for reading, downloading and every action alike.

Actions are plain POST forms that also work without JavaScript (post/redirect/get). With htmx
(`request.htmx`) they answer with the `ticket` partial of the detail page, so header, timeline
and forms update together; errors come back as that partial too, with a 4xx status that the
page's htmx config swaps in (see `templates/base.html`). The escalation actions
(`escalation.views`) reuse `render_ticket`, `after_action` and `refused` for the same behaviour.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from escalation import services as escalation_services
from escalation.forms import DeescalateForm, EscalateForm
from escalation.models import Escalation
from notifications.selectors import TemplateChoice, templates_for
from tickets import selectors, services
from tickets.forms import (
    AssignForm,
    MessageForm,
    PriorityForm,
    TicketCreateForm,
    TicketFilterForm,
    add_service_error,
)
from tickets.models import Attachment, Ticket


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _wants_partial(request: HtmxHttpRequest) -> bool:
    # A history restore (back button after the htmx cache expired) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _vary_on_htmx(response: HttpResponse) -> HttpResponse:
    # The same URL answers with a partial or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return redirect("tickets:list")


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and docker health checks: is the database reachable? No login."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return JsonResponse({"status": "error", "error": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok"})


# --- The list ---------------------------------------------------------------------------------


@login_required
@require_GET
def ticket_list(request: HtmxHttpRequest) -> HttpResponse:
    form = TicketFilterForm(request.GET)
    form.is_valid()  # invalid values are dropped; the rest still filters
    filters = form.filters()
    page = selectors.ticket_page(
        selectors.ticket_list_filter(request.user, filters),
        sort=filters.sort,
        per_page=settings.TICKETS_PER_PAGE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    template = "tickets/list.html"
    if _wants_partial(request):
        template += "#results"
    context = {"form": form, "filters": filters, "page": page, "now": timezone.now()}
    return _vary_on_htmx(render(request, template, context))


# --- Creating ---------------------------------------------------------------------------------


def _require_agent(request: HttpRequest) -> None:
    if not services.is_agent(request.user):
        raise PermissionDenied(_("Only agents can do this."))


@login_required
@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    _require_agent(request)
    teams = list(selectors.assignable_teams())
    if request.method == "POST":
        form = TicketCreateForm(request.POST, request.FILES, teams=teams)
        if form.is_valid():
            try:
                ticket = services.ticket_create(
                    actor=request.user,
                    data=form.new_ticket(),
                    attachments=form.cleaned_data["attachments"],
                )
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(
                    request,
                    _("Ticket %(reference)s has been created.") % {"reference": ticket.reference},
                )
                return redirect(ticket)
        status = 422
    else:
        # The agent's own team first: most tickets an agent opens are for the team they work in.
        own = {t.pk for t in request.user.teams.all()}
        first_own = next((t.pk for t in teams if t.pk in own), None)
        form = TicketCreateForm(teams=teams, initial={"team": first_own})
        status = 200
    return render(request, "tickets/create.html", {"form": form}, status=status)


# --- One ticket -------------------------------------------------------------------------------


def render_ticket(
    request: HtmxHttpRequest,
    ticket: Ticket,
    *,
    status: int = 200,
    **forms: Any,
) -> HttpResponse:
    """The detail page, or only its `ticket` partial for htmx. `forms` replaces the blank
    action forms with bound ones (to show their errors and keep what the agent typed).

    Also used by the escalation views, whose actions answer with the same partial."""
    agent = services.is_agent(request.user)
    request._helpdesk_is_agent = agent  # type: ignore[attr-defined]  # for the navbar
    now = timezone.now()
    context: dict[str, Any] = {
        "ticket": ticket,
        "now": now,
        "timeline": selectors.ticket_timeline(ticket),
        "loose_attachments": selectors.ticket_loose_attachments(ticket),
        "is_following": selectors.is_following(ticket, request.user),
        "can_act": agent,
        "sla": selectors.ticket_sla(ticket, now),
        **_escalation_context(request, ticket, agent, forms),
    }
    if agent:
        teams = list(selectors.assignable_teams())
        context["transitions"] = services.available_transitions(ticket, request.user)
        # The communication templates of an escalated ticket, in the viewer's language.
        context["reply_templates"] = templates_for(ticket, translation.get_language(), now=now)
        context["message_form"] = forms.get("message_form") or _blank_message_form(
            request, context["reply_templates"]
        )
        context["assign_form"] = forms.get("assign_form") or AssignForm(
            teams=teams, initial={"team": ticket.team_id, "assignee": ticket.assignee_id}
        )
        context["priority_form"] = forms.get("priority_form") or PriorityForm(
            initial={"impact": ticket.impact, "urgency": ticket.urgency}
        )
    template = "tickets/detail.html"
    if _wants_partial(request):
        template += "#ticket"
    return _vary_on_htmx(render(request, template, context, status=status))


def _blank_message_form(request: HttpRequest, templates: list[TemplateChoice]) -> MessageForm:
    """An empty reply form, or with `?template=<id>` one started from that template (how
    the template select works without JavaScript)."""
    wanted = request.GET.get("template", "")
    body = next((t.body for t in templates if str(t.id) == wanted), "")
    return MessageForm(initial={"body": body}) if body else MessageForm()


def _escalation_context(
    request: HttpRequest, ticket: Ticket, agent: bool, forms: dict[str, Any]
) -> dict[str, Any]:
    """The escalation panel: who owns the ticket now, its escalations, and the forms the user
    may use (escalate: agents; acknowledge: the receiving team; de-escalate: the lead)."""
    escalations = selectors.ticket_escalations(ticket)
    current = selectors.current_escalation(ticket, escalations)
    context: dict[str, Any] = {
        "current_escalation": current,
        "past_escalations": [e for e in escalations if e != current],
        "can_acknowledge": current is not None
        and current.status == Escalation.Status.RAISED
        and escalation_services.can_acknowledge(current, request.user),
    }
    # A bound form (with the errors of a refused request) is shown whatever the ticket's state.
    if forms.get("escalate_form"):
        context["escalate_form"] = forms["escalate_form"]
    elif agent and ticket.is_active:
        context["escalate_form"] = EscalateForm(
            ticket=ticket,
            initial=escalation_services.package_from_history(ticket, "").as_fields(),
        )
    if forms.get("deescalate_form"):
        context["deescalate_form"] = forms["deescalate_form"]
    elif ticket.is_active and escalation_services.can_deescalate(ticket, request.user):
        targets = escalation_services.deescalation_targets(ticket)
        if targets:
            context["deescalate_form"] = DeescalateForm(targets=targets)
    return context


def after_action(request: HtmxHttpRequest, ticket: Ticket, message: str) -> HttpResponse:
    """Success: the fresh partial for htmx, a redirect (post/redirect/get) otherwise."""
    messages.success(request, message)
    try:
        ticket = selectors.ticket_for_user(request.user, ticket.reference)
    except Http404:
        # Handed to a team the agent is not in, for example: they may no longer see it.
        messages.info(
            request,
            _("Ticket %(reference)s is no longer visible to you.")
            % {"reference": ticket.reference},
        )
        if request.htmx:
            return HttpResponseClientRedirect(reverse("tickets:list"))
        return redirect("tickets:list")
    if request.htmx:
        return render_ticket(request, ticket)
    return redirect(ticket)


def refused(request: HtmxHttpRequest, ticket: Ticket, error: Exception) -> HttpResponse:
    """A request the ticket's rules refuse: a clear message and a 4xx, never a 500."""
    if isinstance(error, PermissionDenied):
        status = 403
        text = str(error) or _("You may not work on this ticket.")
    elif isinstance(error, ConcurrentTransition):
        status = 409
        text = _("Someone else changed this ticket at the same time. Please try again.")
    elif isinstance(error, TransitionNotAllowed):
        status = 409
        text = str(error) or _("This status change is not possible now.")
    else:
        status = 400
        text = " ".join(getattr(error, "messages", [str(error)]))
    messages.error(request, text)
    ticket = selectors.ticket_for_user(request.user, ticket.reference)
    return render_ticket(request, ticket, status=status)


@login_required
@require_GET
def ticket_detail(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_for_user(request.user, reference)
    return render_ticket(request, ticket)


@login_required
@require_POST
def ticket_message(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """A public reply, or an internal note when `internal` is ticked."""
    ticket = selectors.ticket_for_user(request.user, reference)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        internal = form.cleaned_data["internal"]
        service = services.ticket_add_note if internal else services.ticket_reply
        try:
            service(
                ticket=ticket,
                actor=request.user,
                body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"],
            )
        except PermissionDenied as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            if internal:
                return after_action(request, ticket, _("Your internal note has been added."))
            return after_action(request, ticket, _("Your reply has been sent."))
    return render_ticket(request, ticket, status=422, message_form=form)


@login_required
@require_POST
def ticket_transition(request: HtmxHttpRequest, reference: str, name: str) -> HttpResponse:
    ticket = selectors.ticket_for_user(request.user, reference)
    try:
        ticket = services.ticket_transition(ticket=ticket, actor=request.user, name=name)
    except (TransitionNotAllowed, ConcurrentTransition, PermissionDenied, ValidationError) as exc:
        return refused(request, ticket, exc)
    return after_action(
        request,
        ticket,
        _("The ticket is now %(status)s.") % {"status": ticket.get_status_display()},
    )


@login_required
@require_POST
def ticket_assign(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_for_user(request.user, reference)
    form = AssignForm(request.POST, teams=list(selectors.assignable_teams()))
    if form.is_valid():
        try:
            ticket = services.ticket_assign(
                ticket=ticket,
                actor=request.user,
                team=form.cleaned_data["team"],
                assignee=form.cleaned_data["assignee"],
                reason=form.cleaned_data["reason"],
            )
        except PermissionDenied as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return after_action(request, ticket, _("The assignment has been saved."))
    return render_ticket(request, ticket, status=422, assign_form=form)


@login_required
@require_POST
def ticket_priority(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_for_user(request.user, reference)
    form = PriorityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_change_priority(
                ticket=ticket,
                actor=request.user,
                reason=data["reason"],
                impact=data["impact"],
                urgency=data["urgency"],
                priority=data["priority"],
            )
        except PermissionDenied as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return after_action(
                request,
                ticket,
                _("The priority is now %(priority)s.")
                % {"priority": ticket.get_priority_display()},
            )
    return render_ticket(request, ticket, status=422, priority_form=form)


@login_required
@require_POST
def ticket_follow(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_for_user(request.user, reference)
    follow = request.POST.get("follow") != "0"
    try:
        # The service checks only that the user is an agent; visibility was checked above.
        services.ticket_follow(ticket=ticket, actor=request.user, follow=follow)
    except PermissionDenied as exc:
        return refused(request, ticket, exc)
    if follow:
        return after_action(request, ticket, _("You are now following this ticket."))
    return after_action(request, ticket, _("You are no longer following this ticket."))


@login_required
@require_safe
def attachment_download(request: HttpRequest, reference: str, pk: int) -> HttpResponseBase:
    """The file, to the users who may see its ticket. Always a download, never rendered inline:
    an uploaded HTML or SVG file must not run in our origin."""
    ticket = selectors.ticket_for_user(request.user, reference)
    try:
        attachment = Attachment.objects.get(ticket=ticket, pk=pk)
        handle = attachment.file.open("rb")
    except (Attachment.DoesNotExist, FileNotFoundError):
        raise Http404(_("No such attachment.")) from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
