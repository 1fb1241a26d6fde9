"""HTML views for agents. Thin: parse input, check access, call a service or selector, render.

Every ticket is looked up through `selectors.ticket_for_user`, i.e. `visible_to(user)`: a
ticket the user may not read is a 404 for downloading and every action alike. The ticket's
page shows such a ticket's ownership card instead to any agent (`findable_by`), so that the
owner of an escalated ticket can be found; customers and strangers still get a 404.

Every state-changing form carries the ticket's `version` (and a message its idempotency
token `intent`): a double submit or a stale page is refused with a 409 that says what happened
(DESIGN: "Once per intent").

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
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
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
from escalation.forms import (
    DeescalateForm,
    EscalateForm,
    prefill_package,
    tried_since_arrival,
)
from escalation.models import Escalation
from helpdesk import uploads
from mail import ccs as mail_ccs
from mail.forms import CcForm
from notifications import services as notification_services
from notifications.selectors import TemplateChoice, templates_for
from tickets import selectors, services, workspace
from tickets.forms import (
    AssignForm,
    BulkForm,
    MessageForm,
    PriorityForm,
    SavedViewForm,
    TicketCreateForm,
    TicketFilterForm,
    add_service_error,
)
from tickets.models import Attachment, Team, Ticket


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# What a service refuses (rather than a form error): answered by `refused` with 403 or 409.
REFUSALS = (PermissionDenied, TransitionNotAllowed, ConcurrentTransition, services.StaleRequest)


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


# --- The list ---------------------------------------------------------------------------------


@login_required
@require_GET
def ticket_list(request: HtmxHttpRequest) -> HttpResponse:
    return _render_list(request, request.GET)


def _render_list(
    request: HtmxHttpRequest,
    query: QueryDict,
    *,
    status: int = 200,
    bulk_form: BulkForm | None = None,
    bulk_report: list[workspace.BulkOutcome] | None = None,
    view_form: SavedViewForm | None = None,
) -> HttpResponse:
    """The list for the filters in `query`: the whole page, or its `results` partial for
    htmx (then the count's live region is updated out of band, not replaced)."""
    agent = services.is_agent(request.user)
    request._helpdesk_is_agent = agent  # type: ignore[attr-defined]  # for the navbar
    # Every team once: the filter offers them all, the bulk form the active ones with members.
    teams_qs = selectors.filter_teams()
    teams = list(teams_qs.select_related("lead").prefetch_related("members") if agent else teams_qs)
    levels = list(selectors.filter_levels())
    # The service filter's choices: read once, so that the select shows them and an unknown
    # service (a bookmark to a removed one) is a form error rather than every ticket.
    form = TicketFilterForm(
        query, teams=teams, levels=levels, services=list(selectors.filter_services())
    )
    form.is_valid()  # invalid values are dropped; the rest still filters
    if form.unknown_service() and status == 200:
        status = 400
    filters = form.filters()
    page = selectors.ticket_page(
        selectors.ticket_list_filter(request.user, filters),
        sort=filters.sort,
        per_page=settings.TICKETS_PER_PAGE,
        after=query.get("after"),
        before=query.get("before"),
    )
    partial = _wants_partial(request)
    current_query = form.query_string()
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "page": page,
        "now": timezone.now(),
        "partial": partial,
        "current_query": current_query,
        # Tickets found by reference or customer that the user may not read: their owners.
        "cards": selectors.ticket_cards(request.user, filters.q) if not page.prev_cursor else [],
        "bulk_report": bulk_report,
        "bulk_refused": [o for o in bulk_report or [] if not o.done],
        "bulk_done": sum(1 for o in bulk_report or [] if o.done),
    }
    if agent:
        context["bulk_form"] = bulk_form or BulkForm(teams=[t for t in teams if t.is_active])
        context["bulk_destinations"] = workspace.bulk_destinations(request.user)
        if not partial:
            context["views"] = workspace.workspace_views(request.user, teams=teams, levels=levels)
            context["view_form"] = view_form or SavedViewForm()
    template = "tickets/list.html"
    if partial:
        template += "#results"
    return _vary_on_htmx(render(request, template, context, status=status))


@login_required
@require_POST
def ticket_bulk(request: HtmxHttpRequest) -> HttpResponse:
    """A bulk action on the ticked tickets of the list: each through its service, each
    reported (done, or refused and why); answered with the list for the filters it came from."""
    _require_agent(request)
    query = QueryDict(request.POST.get("query", ""))
    form = BulkForm(request.POST, teams=list(selectors.assignable_teams()))
    if form.is_valid():
        data = form.cleaned_data
        try:
            report = workspace.bulk_apply(
                actor=request.user,
                action=data["action"],
                items=form.items,
                transition=data["transition"],
                team=data["team"],
                assignee=data["assignee"],
                reason=data["reason"],
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            if request.htmx:
                return _render_list(request, query, bulk_report=report)
            _bulk_messages(request, report)
            return redirect(f"{reverse('tickets:list')}?{query.urlencode()}")
    return _render_list(request, query, status=422, bulk_form=form)


def _bulk_messages(request: HttpRequest, report: list[workspace.BulkOutcome]) -> None:
    """The bulk report as flash messages, for the page after the redirect (no JavaScript)."""
    done = sum(1 for o in report if o.done)
    if done:
        messages.success(
            request,
            ngettext("%(count)d ticket changed.", "%(count)d tickets changed.", done)
            % {"count": done},
        )
    for outcome in report:
        if not outcome.done:
            messages.error(
                request,
                _("%(reference)s was not changed: %(reason)s")
                % {"reference": outcome.reference, "reason": outcome.reason},
            )


@login_required
@require_POST
def saved_view_save(request: HtmxHttpRequest) -> HttpResponse:
    """Save the list's current filters as a view of the user's own."""
    _require_agent(request)
    query = QueryDict(request.POST.get("query", ""))
    form = SavedViewForm(request.POST)
    if form.is_valid():
        try:
            view = workspace.saved_view_save(
                user=request.user,
                name=form.cleaned_data["name"],
                query=query.urlencode(),
                teams=list(selectors.filter_teams()),
                levels=list(selectors.filter_levels()),
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("The view “%(name)s” has been saved.") % {"name": view})
            return redirect(f"{reverse('tickets:list')}?{view.query}")
    return _render_list(request, query, status=422, view_form=form)


@login_required
@require_POST
def saved_view_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_agent(request)
    if workspace.saved_view_delete(user=request.user, pk=pk):
        messages.success(request, _("The view has been deleted."))
    else:
        messages.info(request, _("That view was deleted already."))
    return redirect("tickets:list")


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
        form = TicketCreateForm(
            request.POST, request.FILES, teams=teams, upload_refusal=uploads.refusal(request)
        )
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
    # Reading and commenting (`visible_to`) is wider than moving the ticket (`can_move`):
    # the page offers only the actions the user may take. Both rights in one query.
    rights = services.ticket_rights(ticket, request.user)
    agent, can_move = rights.agent, rights.move
    request._helpdesk_is_agent = agent  # type: ignore[attr-defined]  # for the navbar
    now = timezone.now()
    page_timeline = selectors.ticket_page_timeline(ticket)
    timeline = page_timeline.entries
    # Loaded once for the assign form and the escalate form's functional teams.
    teams = list(selectors.assignable_teams()) if can_move else None
    context: dict[str, Any] = {
        "ticket": ticket,
        "now": now,
        "timeline": timeline,
        "loose_attachments": page_timeline.loose_attachments,
        "is_following": selectors.is_following(ticket, request.user),
        "can_act": agent,
        "can_move": can_move,
        "sla": selectors.ticket_sla(ticket, now),
        **_escalation_context(request, ticket, can_move, forms, timeline, teams),
    }
    if "escalate_form" in context:
        context["history"] = _message_history(timeline)
    if agent:
        # The communication templates of an escalated ticket, in the viewer's language.
        context["reply_templates"] = templates_for(
            ticket, translation.get_language(), now=now, escalated=context["escalated"]
        )
        context["message_form"] = forms.get("message_form") or _blank_message_form(
            request, context["reply_templates"]
        )
        # The CC card, and who a public reply is emailed to (the requester and the CCs).
        context["ccs"] = mail_ccs.ticket_ccs(ticket) if getattr(ticket, "has_ccs", True) else []
        context["reply_to"], context["reply_ccs"] = mail_ccs.reply_recipients(
            ticket, context["ccs"]
        )
        if can_move:
            context["cc_form"] = forms.get("cc_form") or CcForm()
    if teams is not None:
        context["transitions"] = services.available_transitions(ticket, request.user)
        context["assign_form"] = forms.get("assign_form") or AssignForm(
            teams=teams, initial={"team": ticket.team_id, "assignee": ticket.assignee_id}
        )
        context["priority_form"] = forms.get("priority_form") or PriorityForm(
            initial={"impact": ticket.impact, "urgency": ticket.urgency}
        )
    template = "tickets/detail.html"
    context["partial"] = _wants_partial(request)
    if context["partial"]:
        template += "#ticket"
    return _vary_on_htmx(render(request, template, context, status=status))


def _blank_message_form(request: HttpRequest, templates: list[TemplateChoice]) -> MessageForm:
    """An empty reply form, or with `?template=<id>` one started from that template (how
    the template select works without JavaScript)."""
    wanted = request.GET.get("template", "")
    body = next((t.body for t in templates if str(t.id) == wanted), "")
    return MessageForm(initial={"body": body}) if body else MessageForm()


def expected_version(request: HttpRequest) -> int | None:
    """The ticket version the submitted form was made from; None when the request makes no
    claim (then the service does not check). A value that is not a number counts as none."""
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


def _escalation_context(
    request: HttpRequest,
    ticket: Ticket,
    can_move: bool,
    forms: dict[str, Any],
    timeline: list[selectors.TimelineEntry],
    teams: list[Team] | None,
) -> dict[str, Any]:
    """The escalation panel: who owns the ticket now, its escalations, and the forms the user
    may use (escalate: those who may move the ticket; acknowledge: the receiving team, with
    the choice whom to assign; de-escalate: the lead)."""
    escalations = selectors.ticket_escalations(ticket)
    current = selectors.current_escalation(ticket, escalations)
    can_acknowledge = (
        current is not None
        and current.status == Escalation.Status.RAISED
        and escalation_services.can_acknowledge(current, request.user)
    )
    context: dict[str, Any] = {
        "current_escalation": current,
        "past_escalations": [e for e in escalations if e != current],
        "can_acknowledge": can_acknowledge,
        "escalated": selectors.is_escalated(ticket, escalations),
    }
    if can_acknowledge:
        assert current is not None
        # The receiving team as `teams` loaded it, with its members: no query of its own.
        loaded = next((t for t in teams or () if t.pk == current.to_team_id), None)
        if loaded is not None:
            current.to_team = loaded
        others = escalation_services.acknowledge_assignees(current, request.user)[1:]
        context["ack_members"] = others
    # A bound form (with the errors of a refused request) is shown whatever the ticket's state.
    if forms.get("escalate_form"):
        context["escalate_form"] = forms["escalate_form"]
    elif can_move and ticket.is_active:
        if request.GET.get("escalate"):
            # The panel opened without JavaScript (its link): the form in the page, open.
            context["escalate_form"] = _blank_escalate_form(ticket, timeline, teams)
            context["escalate_open"] = True
        else:
            # Rarely used and the page's largest form: loaded when its panel is opened
            # (`ticket_escalate_form`), not built and rendered on every view of the ticket.
            context["escalate_lazy"] = True
    if forms.get("deescalate_form"):
        context["deescalate_form"] = forms["deescalate_form"]
    elif ticket.is_active and escalation_services.can_deescalate(ticket, request.user):
        targets = escalation_services.deescalation_targets(
            ticket, escalations=escalations, active_teams=teams
        )
        if targets:
            context["deescalate_form"] = DeescalateForm(targets=targets)
    return context


def _blank_escalate_form(
    ticket: Ticket, timeline: list[selectors.TimelineEntry], teams: list[Team] | None
) -> EscalateForm:
    """The escalate form pre-filled from the ticket's history (the information package)."""
    tried = tried_since_arrival(timeline)
    return EscalateForm(ticket=ticket, teams=teams, initial=prefill_package(ticket, tried))


def _message_history(timeline: list[selectors.TimelineEntry]) -> list[Any]:
    """Beside the escalate form's pre-filled "What was tried": every reply and note, newest
    first."""
    return [
        e.message for e in reversed(timeline) if e.message is not None and not e.message.is_customer
    ]


@login_required
@require_GET
def ticket_escalate_form(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The escalate form of the ticket page, fetched by htmx when its panel is opened.

    Without htmx (a link followed, JavaScript off) the ticket page with the form open."""
    ticket = selectors.ticket_for_user(request.user, reference)
    if not ticket.is_active or not services.ticket_rights(ticket, request.user).move:
        raise PermissionDenied(_("You cannot escalate this ticket."))
    if not request.htmx:
        return redirect(f"{ticket.get_absolute_url()}?escalate=1#escalate-panel")
    timeline = selectors.ticket_page_timeline(ticket).entries
    context = {
        "ticket": ticket,
        "form": _blank_escalate_form(ticket, timeline, list(selectors.assignable_teams())),
        "history": _message_history(timeline),
    }
    return _vary_on_htmx(render(request, "escalation/_escalate_form_body.html", context))


# The response header that tells static/js/workspace.js where to put the focus after htmx
# swapped the ticket in: on what changed, not back on the page's body.
FOCUS_HEADER = "X-Helpdesk-Focus"


def after_action(
    request: HtmxHttpRequest, ticket: Ticket, message: str, *, focus: str = "#ticket-title"
) -> HttpResponse:
    """Success: the fresh partial for htmx, a redirect (post/redirect/get) otherwise.

    `focus`: a CSS selector in the new partial for what the action changed (a new message,
    the follow button); by default the ticket's title, whose header shows status, priority
    and owner. The confirmation itself is announced by the page's polite live region."""
    messages.success(request, message)
    try:
        ticket = selectors.ticket_for_user(request.user, ticket.reference)
    except Http404:
        # Handed to a team the agent is not in, for example: its page shows the owner now.
        messages.info(
            request,
            _("You can no longer read ticket %(reference)s; here is who owns it now.")
            % {"reference": ticket.reference},
        )
        if request.htmx:
            return HttpResponseClientRedirect(ticket.get_absolute_url())
        return redirect(ticket)
    if request.htmx:
        response = render_ticket(request, ticket)
        response[FOCUS_HEADER] = focus
        return response
    return redirect(ticket)


def refused(request: HtmxHttpRequest, ticket: Ticket, error: Exception) -> HttpResponse:
    """A request the ticket's rules refuse: a clear message and a 4xx, never a 500."""
    status, text = workspace.refusal_text(error)
    messages.error(request, text)
    try:
        ticket = selectors.ticket_for_user(request.user, ticket.reference)
    except Http404:
        return render_card(request, ticket, status=status)
    return render_ticket(request, ticket, status=status)


def render_card(request: HttpRequest, ticket: Ticket, *, status: int = 200) -> HttpResponse:
    """The ownership card of a ticket the user may look up but not read: who owns it and how
    to reach them, without its content."""
    ticket = selectors.ticket_card_for_user(request.user, ticket.reference)
    request._helpdesk_is_agent = True  # type: ignore[attr-defined]  # only agents get here
    return render(request, "tickets/card.html", {"ticket": ticket}, status=status)


@login_required
@require_GET
def ticket_detail(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The ticket for those who may read it; its ownership card for every other agent."""
    try:
        ticket = selectors.ticket_for_user(request.user, reference)
    except Http404:
        card = selectors.ticket_card_for_user(request.user, reference)
        return _vary_on_htmx(render_card(request, card))
    # Opening the ticket is reading what the user was told about it: the bell (which loads
    # after the page) no longer counts those notifications.
    if getattr(ticket, "unread_for_user", True):
        notification_services.notifications_mark_read(user=request.user, ticket_id=ticket.pk)
    return render_ticket(request, ticket)


@login_required
@require_POST
def ticket_message(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """A public reply, or an internal note when `internal` is ticked."""
    ticket = selectors.ticket_for_user(request.user, reference)
    form = MessageForm(request.POST, request.FILES, upload_refusal=uploads.refusal(request))
    if form.is_valid():
        internal = form.cleaned_data["internal"]
        service = services.ticket_add_note if internal else services.ticket_reply
        try:
            written = service(
                ticket=ticket,
                actor=request.user,
                body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"],
                intent=form.cleaned_data["intent"],
            )
        except (PermissionDenied, services.StaleRequest) as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            focus = f"#message-{written.pk}"
            if internal:
                return after_action(
                    request, ticket, _("Your internal note has been added."), focus=focus
                )
            return after_action(request, ticket, _("Your reply has been sent."), focus=focus)
    return render_ticket(request, ticket, status=422, message_form=form)


@login_required
@require_POST
def ticket_transition(request: HtmxHttpRequest, reference: str, name: str) -> HttpResponse:
    ticket = selectors.ticket_for_user(request.user, reference)
    try:
        ticket = services.ticket_transition(
            ticket=ticket,
            actor=request.user,
            name=name,
            expected_version=expected_version(request),
        )
    except (*REFUSALS, ValidationError) as exc:
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
                expected_version=expected_version(request),
            )
        except REFUSALS as exc:
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
        return after_action(
            request, ticket, _("You are now following this ticket."), focus="#follow-button"
        )
    return after_action(
        request, ticket, _("You are no longer following this ticket."), focus="#follow-button"
    )


@login_required
@require_safe
def attachment_download(request: HttpRequest, reference: str, pk: int) -> HttpResponseBase:
    """The file, to the users who may see its ticket. Always a download, never rendered inline:
    an uploaded HTML or SVG file must not run in our origin."""
    ticket = selectors.ticket_for_user(request.user, reference)
    attachment = Attachment.objects.filter(ticket=ticket, pk=pk).first()
    if attachment is None:
        raise Http404(_("No such attachment."))
    return attachment_response(attachment)


def attachment_response(attachment: Attachment) -> HttpResponseBase:
    """The file as a download that the browser never renders (the portal serves files the
    same way); Http404 when the stored file is gone."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("No such attachment.")) from None
    return uploads.download_response(handle, attachment.original_name)
