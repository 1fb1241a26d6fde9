"""The escalation dashboard: the page, its live fragments (polled by static/js/dashboard.js),
the trend CSVs, and the actions in place.

Thin: parse the query string or the form, call the selectors or the services of the ticket page
(`escalation.services`, `tickets.services`), render. The actions refuse what the ticket page
refuses, the same way: a stale request (StaleRequest: the row's version no longer holds) is a
409 with the message in place, a right missing a 403, a form error a 422 with the form. Without
JavaScript every action posts a plain form and comes back to the dashboard (post/redirect/get).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from dashboard import selectors
from dashboard.forms import DashboardFilterForm, ReassignForm
from dashboard.service_health import services_not_operational
from escalation import services as escalation_services
from escalation.forms import DeescalateForm, EscalateForm, prefill_package, tried_since_arrival
from escalation.models import Escalation
from reporting import trends
from reporting.exports import neutralise
from tickets import services as ticket_services
from tickets.forms import add_service_error
from tickets.models import Ticket
from tickets.selectors import ticket_for_user, ticket_timeline
from tickets.views import REFUSALS, expected_version

FRAGMENTS = ("services", "needs", "late", "load")


def _require_agent(request: HttpRequest) -> None:
    if not ticket_services.is_agent(request.user):
        raise PermissionDenied(_("The dashboard is for agents, team leads and admins."))
    request._helpdesk_is_agent = True  # type: ignore[attr-defined]  # for the navbar


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, selectors.DashboardFilters]:
    form = DashboardFilterForm(request.GET)
    return form, form.filters()


def filter_query(params: QueryDict) -> str:
    """The dashboard's filters among `params` as a query string (encoded, other keys and
    empty values left out), for links, polling and the way back after an action."""
    keep = {k: v for k, v in params.items() if k in DashboardFilterForm.base_fields and v}
    return urlencode(sorted(keep.items()))


def _query(request: HttpRequest) -> str:
    return filter_query(request.GET)


def _fragment_context(
    request: HttpRequest,
    name: str,
    filters: selectors.DashboardFilters,
    scope: selectors.DashboardScope,
) -> dict[str, Any]:
    now = scope.now
    user = request.user
    if name == "needs":
        return {"now": now, "needs": selectors.needs_human(user, filters, now, scope=scope)}
    if name == "late":
        return {"now": now, "late": selectors.lateness(user, filters, now, scope=scope)}
    if name == "services":
        return {"services": services_not_operational(user, filters)}
    return {"now": now, "load": selectors.load(user, filters, now, scope=scope)}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The whole page: what needs a human, at risk and breached, load, trends."""
    _require_agent(request)
    form, filters = _filters(request)
    context: dict[str, Any] = {"form": form, "query": _query(request)}
    # One scope for every section: the reader's teams and readable tickets are read once.
    scope = selectors.DashboardScope(request.user, timezone.now())
    for name in FRAGMENTS:
        context.update(_fragment_context(request, name, filters, scope))
    context["trends"] = _trends(request, filters, scope)
    context["header_actions"] = selectors.header_actions(request.user)
    response = render(request, "dashboard/dashboard.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@never_cache
@login_required
@require_GET
def fragment(request: HttpRequest, name: str) -> HttpResponse:
    """One live section, for polling: `services`, `needs`, `late` or `load`."""
    if name not in FRAGMENTS:
        raise Http404(_("No such section."))
    _require_agent(request)
    _form, filters = _filters(request)
    scope = selectors.DashboardScope(request.user, timezone.now())
    context = _fragment_context(request, name, filters, scope)
    context["query"] = _query(request)
    return render(request, f"dashboard/_{name}.html", context)


# --- Trends -------------------------------------------------------------------------------------


logger = logging.getLogger(__name__)


def _trends(
    request: HttpRequest,
    filters: selectors.DashboardFilters,
    scope: selectors.DashboardScope | None = None,
) -> dict[str, Any]:
    """The three trends of the last 30 days, for the user's scope and filters. Cached for
    `DASHBOARD_TRENDS_CACHE_SECONDS` (default five minutes) per scope (all tickets, or the
    user's teams), filters, day and language, so that opening the page again does not count
    30 days of history again."""
    seconds = settings.DASHBOARD_TRENDS_CACHE_SECONDS
    today = timezone.localdate()
    user = request.user
    scope = scope or selectors.DashboardScope(user, timezone.now())
    teams = "all" if scope.everything else ",".join(str(pk) for pk in sorted(scope.teams))
    key = f"dashboard:trends:{teams}:{filter_query(request.GET)}:{today}:{get_language()}"
    cached = _cache_call(cache.get, key) if seconds else None
    if cached is not None:
        return cached
    tickets = selectors.dashboard_tickets(user, filters)
    per_level = trends.escalations_per_level(tickets, last_day=today)
    compliance = trends.sla_compliance(tickets, last_day=today)
    tta = trends.median_time_to_acknowledge(tickets, last_day=today)
    data = {
        "per_level": per_level,
        "compliance": compliance,
        "tta": tta,
        "chart_data": {
            "days": [row.day.isoformat() for row in compliance],
            "per_level": [
                {"label": label, "values": [row.values[key] for row in per_level.rows]}
                for key, label in per_level.columns
            ],
            "compliance": [row.values["percent"] for row in compliance],
            "tta": [row.values["minutes"] for row in tta],
        },
    }
    if seconds:
        _cache_call(cache.set, key, data, seconds)
    return data


def _cache_call(method: Callable[..., Any], *args: Any) -> Any:
    """A cache call that does not take the page down with the cache (Redis away): the trends
    are then counted afresh."""
    try:
        return method(*args)
    except Exception:
        logger.warning("Dashboard trends cache unavailable", exc_info=True)
        return None


def _csv_rows(name: str, data: dict[str, Any]) -> Iterable[list[object]]:
    if name == "escalations":
        trend = data["per_level"]
        yield [_("Day"), *[label for _key, label in trend.columns]]
        for row in trend.rows:
            yield [row.day.isoformat(), *[row.values[key] for key, _label in trend.columns]]
    elif name == "compliance":
        yield [_("Day"), _("Resolved"), _("Met every target"), _("Compliance (%)")]
        for row in data["compliance"]:
            v = row.values
            yield [row.day.isoformat(), v["resolved"], v["met"], v["percent"]]
    else:
        yield [_("Day"), _("Acknowledged"), _("Median time to acknowledge (min)")]
        for row in data["tta"]:
            yield [row.day.isoformat(), row.values["acknowledged"], row.values["minutes"]]


@login_required
@require_GET
def trend_csv(request: HttpRequest, name: str) -> HttpResponse:
    """One trend as CSV, with the dashboard's filters."""
    if name not in ("escalations", "compliance", "acknowledgement"):
        raise Http404(_("No such trend."))
    _require_agent(request)
    _form, filters = _filters(request)
    data = _trends(request, filters)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate()}.csv"'
    writer = csv.writer(response)
    for row in _csv_rows(name, data):
        writer.writerow([neutralise(cell) for cell in row])
    return response


# --- Actions in place ---------------------------------------------------------------------------


def _dashboard_url(request: HttpRequest) -> str:
    """The dashboard with the filters the action was made from (only those, re-encoded)."""
    query = filter_query(QueryDict(request.POST.get("query", "")))
    url = reverse("dashboard:index")
    return f"{url}?{query}" if query else url


def _answer(
    request: HttpRequest,
    *,
    done: list[str],
    refused: list[str],
    status: int = 200,
    panel: str = "",
    panel_context: dict[str, Any] | None = None,
) -> HttpResponse:
    """After an action: for htmx the status message (out of band into the polite live region)
    and, where given, the action panel; the live sections refresh themselves at once
    (`HX-Trigger: dashboard-refresh`). Otherwise messages and a redirect to the dashboard."""
    if not getattr(request, "htmx", False):
        for text in done:
            messages.success(request, text)
        for text in refused:
            messages.error(request, text)
        if panel and status >= 400:
            return render(
                request, "dashboard/actions_page.html", panel_context or {}, status=status
            )
        return redirect(_dashboard_url(request))
    context = {"done": done, "refused": refused, "panel": panel, **(panel_context or {})}
    response = render(request, "dashboard/_action_result.html", context, status=status)
    response["HX-Trigger"] = "dashboard-refresh"
    return response


def _refusal_text(error: Exception) -> tuple[int, str]:
    if isinstance(error, ticket_services.StaleRequest):
        return 409, str(error)
    if isinstance(error, PermissionDenied):
        return 403, str(error) or _("You may not work on this ticket.")
    if isinstance(error, ConcurrentTransition):
        return 409, _("Someone else changed this ticket at the same time. Please try again.")
    if isinstance(error, TransitionNotAllowed):
        return 409, str(error) or _("This is not possible now.")
    return 400, " ".join(getattr(error, "messages", [str(error)]))


def _parse_acks(values: list[str]) -> list[tuple[int, int | None]]:
    """`<escalation>:<ticket version>` pairs from the checkboxes (or one button)."""
    pairs = []
    for value in values:
        pk, _sep, version = value.partition(":")
        if pk.isdigit():
            pairs.append((int(pk), int(version) if version.isdigit() else None))
    return pairs


@login_required
@require_POST
def acknowledge(request: HttpRequest) -> HttpResponse:
    """Acknowledge one escalation or several (the checked rows), optionally assigning the
    ticket (`assignee`: the acknowledger, or for the lead a member), each through
    `escalation.services.escalation_acknowledge` in its own transaction. Each refusal is
    reported with its reason; 409 when every one was stale."""
    _require_agent(request)
    pairs = _parse_acks(request.POST.getlist("escalation"))
    if not pairs:
        return _answer(
            request, done=[], refused=[_("Choose the escalations to acknowledge.")], status=400
        )
    assignee = None
    raw_assignee = request.POST.get("assignee", "")
    if raw_assignee:
        users = get_user_model().objects.filter(is_active=True)
        assignee = users.filter(pk=raw_assignee).first() if raw_assignee.isdigit() else None
        if assignee is None:
            return _answer(request, done=[], refused=[_("Choose whom to assign.")], status=400)
    visible = Ticket.objects.visible_to(request.user).values("pk")
    found = (
        Escalation.objects.filter(ticket__in=visible)
        .select_related("ticket", "to_team")
        .in_bulk([pk for pk, _version in pairs])
    )
    done: list[str] = []
    refused: list[str] = []
    statuses: list[int] = []
    for pk, version in pairs:
        escalation = found.get(pk)
        if escalation is None:
            refused.append(_("No such escalation."))
            statuses.append(404)
            continue
        reference = escalation.ticket.reference
        try:
            escalation_services.escalation_acknowledge(
                escalation=escalation,
                actor=request.user,
                assignee=assignee,
                expected_version=version,
            )
        except (*REFUSALS, ValidationError) as exc:
            status, text = _refusal_text(exc)
            refused.append(
                _("%(reference)s: %(reason)s") % {"reference": reference, "reason": text}
            )
            statuses.append(status)
            continue
        if assignee is None:
            text = _("%(reference)s: acknowledged for %(team)s.")
        elif assignee == request.user:
            text = _("%(reference)s: acknowledged for %(team)s; you have taken it.")
        else:
            text = _("%(reference)s: acknowledged for %(team)s and assigned to %(name)s.")
        done.append(
            text
            % {
                "reference": reference,
                "team": escalation.to_team.name,
                "name": ticket_services.user_label(assignee),
            }
        )
    status = 200 if done else max(statuses, key=lambda s: (s == 409, s))
    return _answer(request, done=done, refused=refused, status=status)


def _ticket_or_404(request: HttpRequest, reference: str) -> Ticket:
    """The ticket if the user may read it (`visible_to`); Http404 otherwise."""
    return ticket_for_user(request.user, reference)


def _panel_context(request: HttpRequest, ticket: Ticket, **bound: Any) -> dict[str, Any]:
    """The action panel of one ticket: reassign (who may move it), escalate further (who may
    move it, while active), de-escalate (the lead of its team). The forms of the ticket page."""
    user = request.user
    context: dict[str, Any] = {
        "ticket": ticket,
        "query": filter_query(QueryDict(request.GET.get("query") or request.POST.get("query", ""))),
    }
    if not ticket.is_active:
        return context
    if ticket_services.can_move(ticket, user):
        context["reassign_form"] = bound.get("reassign_form") or ReassignForm(
            ticket=ticket, initial={"assignee": ticket.assignee_id}
        )
        context["escalate_form"] = bound.get("escalate_form") or EscalateForm(
            ticket=ticket,
            initial=prefill_package(ticket, tried_since_arrival(ticket_timeline(ticket))),
        )
    if escalation_services.can_deescalate(ticket, user):
        targets = escalation_services.deescalation_targets(ticket)
        if targets or bound.get("deescalate_form"):
            context["deescalate_form"] = bound.get("deescalate_form") or DeescalateForm(
                targets=targets
            )
    return context


@login_required
@require_GET
def actions(request: HttpRequest, reference: str) -> HttpResponse:
    """The action panel of a ticket: in place for htmx, a page of its own without JavaScript."""
    _require_agent(request)
    ticket = _ticket_or_404(request, reference)
    context = _panel_context(request, ticket)
    template = (
        "dashboard/_actions.html"
        if getattr(request, "htmx", False)
        else "dashboard/actions_page.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _panel_answer(request: HttpRequest, ticket: Ticket, exc: Exception) -> HttpResponse:
    status, text = _refusal_text(exc)
    fresh = _ticket_or_404(request, ticket.reference) if ticket.is_active else ticket
    return _answer(
        request,
        done=[],
        refused=[text],
        status=status,
        panel="dashboard/_actions.html",
        panel_context=_panel_context(request, fresh),
    )


def _version(request: HttpRequest) -> int | None:
    """The ticket version the form was made from (`tickets.views.expected_version`)."""
    return expected_version(request)


def _act(
    request: HttpRequest,
    ticket: Ticket,
    *,
    form: Any,
    form_name: str,
    perform: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """One action of the panel: a valid form runs `perform` (the service call, returning the
    sentence to show); a refusal is a message with 403/409; a form error the panel again, 422."""
    if form.is_valid():
        try:
            text = perform(form.cleaned_data)
        except REFUSALS as exc:
            return _panel_answer(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return _answer(request, done=[text], refused=[])
    return _answer(
        request,
        done=[],
        refused=[],
        status=422,
        panel="dashboard/_actions.html",
        panel_context=_panel_context(request, ticket, **{form_name: form}),
    )


@login_required
@require_POST
def reassign(request: HttpRequest, reference: str) -> HttpResponse:
    """Give the ticket to another member of its team, or to nobody."""
    _require_agent(request)
    ticket = _ticket_or_404(request, reference)

    def perform(data: dict[str, Any]) -> str:
        assignee = data["assignee"]
        ticket_services.ticket_assign(
            ticket=ticket, actor=request.user, assignee=assignee, expected_version=_version(request)
        )
        if assignee is None:
            return _("%(reference)s is no longer assigned.") % {"reference": reference}
        return _("%(reference)s is now assigned to %(name)s.") % {
            "reference": reference,
            "name": ticket_services.user_label(assignee),
        }

    form = ReassignForm(request.POST, ticket=ticket)
    return _act(request, ticket, form=form, form_name="reassign_form", perform=perform)


@login_required
@require_POST
def escalate(request: HttpRequest, reference: str) -> HttpResponse:
    """Escalate further: the ticket page's form and service, package and checklist included."""
    _require_agent(request)
    ticket = _ticket_or_404(request, reference)
    form = EscalateForm(request.POST, ticket=ticket)

    def perform(data: dict[str, Any]) -> str:
        escalation = escalation_services.escalation_raise(
            ticket=ticket,
            actor=request.user,
            kind=data["kind"],
            package=form.package(),
            to_team=form.target(),
            reason=data["reason"],
            expected_version=_version(request),
        )
        return _("%(reference)s has been escalated to %(team)s (%(level)s).") % {
            "reference": reference,
            "team": escalation.to_team.name,
            "level": escalation.to_level.display_name,
        }

    return _act(request, ticket, form=form, form_name="escalate_form", perform=perform)


@login_required
@require_POST
def deescalate(request: HttpRequest, reference: str) -> HttpResponse:
    """Hand the ticket back down with a reason (the lead of its team, or an admin). A double
    submit is told what the first one did before the right is checked (the first hand-back
    took the lead's right away), as on the ticket page."""
    _require_agent(request)
    ticket = _ticket_or_404(request, reference)
    try:
        ticket_services.expect_version(ticket, _version(request), request.user)
        if not escalation_services.can_deescalate(ticket, request.user):
            raise PermissionDenied(_("Only the lead of the current team can de-escalate."))
    except REFUSALS as exc:
        return _panel_answer(request, ticket, exc)

    def perform(data: dict[str, Any]) -> str:
        escalation = escalation_services.escalation_deescalate(
            ticket=ticket,
            actor=request.user,
            to_team=data["to_team"],
            reason=data["reason"],
            expected_version=_version(request),
        )
        return _("%(reference)s has been handed back to %(team)s.") % {
            "reference": reference,
            "team": escalation.to_team.name,
        }

    form = DeescalateForm(request.POST, targets=escalation_services.deescalation_targets(ticket))
    return _act(request, ticket, form=form, form_name="deescalate_form", perform=perform)
