"""The lessons pages under /reports/lessons/: the list of closing reports, a ticket's report
(written, changed, its measures), the open measures. Thin over `lessons.selectors` and
`lessons.services`; agents only (anybody else gets a 404, as on the incident pages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from lessons import prefill, rules, selectors, services
from lessons.forms import FilterForm, MeasureForm, ReportForm
from lessons.models import ClosingReport, Measure
from tickets.forms import add_service_error
from tickets.models import Ticket
from tickets.services import StaleRequest, is_agent


def _require_agent(request: HttpRequest) -> None:
    if not is_agent(request.user):  # type: ignore[arg-type]
        raise Http404


def _ticket(request: HttpRequest, reference: str) -> Ticket:
    _require_agent(request)
    return get_object_or_404(
        Ticket.objects.visible_to(request.user).select_related("level", "service", "team"),
        reference=reference,
    )


def _refused(request: HttpRequest, error: Exception, status: int) -> HttpResponse:
    text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    return render(
        request,
        "lessons/refused.html",
        {"text": text or _("You may not do this.")},
        status=status,
    )


def _post(
    request: HttpRequest, form: Any, act: Callable[[dict[str, Any]], HttpResponse]
) -> HttpResponse | None:
    """Run `act` with a valid form's data: its response, or a refusal (403, 409); None when
    the form (or the service's ValidationError, shown on it) has errors to show again."""
    if not form.is_valid():
        return None
    try:
        return act(form.cleaned_data)
    except PermissionDenied as exc:
        return _refused(request, exc, 403)
    except StaleRequest as exc:
        return _refused(request, exc, 409)
    except ValidationError as exc:
        add_service_error(form, exc)
    return None


@login_required
@require_safe
def report_list(request: HttpRequest) -> HttpResponse:
    """The closing reports the reader may see, searched and filtered from the URL."""
    _require_agent(request)
    form = FilterForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "reports": None}
        return render(request, "lessons/list.html", context, status=400)
    reports = selectors.report_list(request.user, form.filters())
    return render(request, "lessons/list.html", {"form": form, "reports": reports})


def _report_context(
    request: HttpRequest,
    ticket: Ticket,
    report: ClosingReport | None,
    *,
    form: ReportForm | None = None,
    measure_form: MeasureForm | None = None,
) -> dict[str, Any]:
    today = timezone.localdate()
    if form is None:
        form = (
            ReportForm(instance=report)
            if report is not None
            else ReportForm(initial=prefill.draft(ticket))
        )
    if report is not None and measure_form is None:
        measure_form = MeasureForm(today=today, initial={"version": report.version})
    return {
        "ticket": ticket,
        "report": report,
        "form": form,
        "prefilled": report is None,
        "required": rules.requires_report(ticket),
        "level_reached": rules.level_reached(ticket),
        "can_write": services.can_write(ticket, request.user),  # type: ignore[arg-type]
        "measures": selectors.measures_of(report) if report is not None else [],
        "measure_form": measure_form,
        "today": today,
    }


@login_required
def report_page(request: HttpRequest, reference: str) -> HttpResponse:
    """A ticket's closing report: pre-filled from the timeline while it has none; saving
    writes or changes it (the form's version makes a double submit save once)."""
    ticket = _ticket(request, reference)
    report = selectors.report_for_ticket(ticket)
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    if request.method != "POST":
        return render(request, "lessons/report.html", _report_context(request, ticket, report))
    form = ReportForm(request.POST, instance=report or ClosingReport(ticket=ticket))

    def save(data: dict[str, Any]) -> HttpResponse:
        saved = services.report_save(
            ticket=ticket,
            actor=request.user,  # type: ignore[arg-type]
            category=data["category"],
            texts={name: data[name] for name in ClosingReport.TEXT_FIELDS},
            expected_version=data["version"],
        )
        text = _("Closing report of %(reference)s saved.") % {"reference": ticket.reference}
        messages.success(request, text)
        return redirect(saved)

    done = _post(request, form, save)
    if done is not None:
        return done
    context = _report_context(request, ticket, report, form=form)
    context["prefilled"] = False
    return render(request, "lessons/report.html", context, status=422)


@login_required
@require_POST
def measure_add(request: HttpRequest, reference: str) -> HttpResponse:
    """Track a preventive measure of the ticket's report with an owner and a due date."""
    ticket = _ticket(request, reference)
    report = get_object_or_404(ClosingReport, ticket=ticket)
    form = MeasureForm(request.POST, today=timezone.localdate())

    def add(data: dict[str, Any]) -> HttpResponse:
        services.measure_add(
            report=report,
            actor=request.user,  # type: ignore[arg-type]
            title=data["title"],
            owner=data["owner"],
            due_on=data["due_on"],
            expected_version=data["version"],
        )
        messages.success(request, _("Measure added; its owner has been told."))
        return redirect(report)

    done = _post(request, form, add)
    if done is not None:
        return done
    context = _report_context(request, ticket, report, measure_form=form)
    return render(request, "lessons/report.html", context, status=422)


@login_required
@require_POST
def measure_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a measure done (its owner, or who may write its report); done once."""
    _require_agent(request)
    measure = get_object_or_404(
        Measure.objects.select_related("report__ticket").filter(
            pk__in=selectors.visible_measures(request.user)
        ),
        pk=pk,
    )
    try:
        services.measure_done(measure=measure, actor=request.user)  # type: ignore[arg-type]
    except PermissionDenied as exc:
        return _refused(request, exc, 403)
    messages.success(request, _("Measure “%(title)s” marked done.") % {"title": measure.title})
    if request.POST.get("next") == "measures":
        return redirect("lessons:measures")
    return redirect(measure.report)


@login_required
@require_safe
def open_measures(request: HttpRequest) -> HttpResponse:
    """The preventive measures not yet done, overdue first."""
    _require_agent(request)
    measures = selectors.open_measures(request.user)
    context = {"measures": measures, "today": timezone.localdate()}
    return render(request, "lessons/measures.html", context)
