"""The reports page and its CSV: thin over `reporting.kpis` (the figures) and `reporting.table`
(their words). Team leads and admins only; a period that cannot be read is a 400 with the form
and its error."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from reporting import table, weekly, xlsx
from reporting.exports import neutralise
from reporting.forms import ReportForm, WeeklyForm
from reporting.reading import DRILL_ROWS, read_drill, read_report, report_tables
from reporting.selectors import sees_reports


def _require_reader(request: HttpRequest) -> None:
    if not sees_reports(request.user):
        raise PermissionDenied(_("Reports are for team leads and admins."))
    request.helpdesk_sees_reports = True  # type: ignore[attr-defined]  # for the navbar


def _read(request: HttpRequest) -> tuple[ReportForm, list[table.Card] | None]:
    return read_report(request.user, request.GET)


def _tables(request: HttpRequest, form: ReportForm) -> list[table.Table]:
    return report_tables(request.user, form)


def _query(request: HttpRequest) -> str:
    keep = {k: v for k, v in request.GET.items() if k in ReportForm.base_fields and v}
    return urlencode(sorted(keep.items()))


@login_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    """The KPI cards for the chosen period and slices."""
    _require_reader(request)
    form, cards = _read(request)
    context: dict[str, Any] = {
        "form": form,
        "cards": cards,
        "query": _query(request),
        "weekly_subscribed": weekly.is_subscribed(request.user),
    }
    if cards is not None:
        first, last = form.cleaned_data["first_day"], form.cleaned_data["last_day"]
        days = (last - first).days + 1
        context.update(
            first_day=first,
            last_day=last,
            days=days,
            previous_first_day=first - dt.timedelta(days=days),
            previous_last_day=first - dt.timedelta(days=1),
            tables=_tables(request, form),
        )
    return render(request, "reporting/reports.html", context, status=200 if cards else 400)


def _bad_period(request: HttpRequest, form: ReportForm) -> HttpResponse:
    return render(request, "reporting/reports.html", {"form": form, "cards": None}, status=400)


def _filename(form: ReportForm, stem: str, extension: str) -> str:
    first, last = form.cleaned_data["first_day"], form.cleaned_data["last_day"]
    return f'attachment; filename="{stem}-{first}-{last}.{extension}"'


def _csv(rows: Iterable[list[object]], disposition: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = disposition
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return response


@login_required
@require_GET
def table_csv(request: HttpRequest, key: str) -> HttpResponse:
    """One table of the page as CSV, for the same period and slices; an unknown table is a
    404."""
    _require_reader(request)
    form, cards = _read(request)
    if cards is None:
        return _bad_period(request, form)
    found = [t for t in _tables(request, form) if t.key == key]
    if not found:
        raise Http404(_("There is no such table."))
    return _csv(table.table_rows(found[0]), _filename(form, key.replace("_", "-"), "csv"))


@login_required
@require_GET
def report_xlsx(request: HttpRequest) -> HttpResponse:
    """The KPI table and every table of the page as one XLSX workbook, a sheet each."""
    _require_reader(request)
    form, cards = _read(request)
    if cards is None:
        return _bad_period(request, form)
    sheets: list[tuple[str, Iterable[Sequence[object]]]] = [
        (_("KPIs"), list(table.csv_rows(cards)))
    ]
    sheets += [(t.title, list(table.table_rows(t))) for t in _tables(request, form)]
    response = HttpResponse(
        xlsx.workbook(sheets),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = _filename(form, "report", "xlsx")
    return response


@login_required
@require_GET
def kpi_csv(request: HttpRequest) -> HttpResponse:
    """The KPI table as CSV, for the same period and slices."""
    _require_reader(request)
    form, cards = _read(request)
    if cards is None:
        return _bad_period(request, form)
    return _csv(table.csv_rows(cards), _filename(form, "kpis", "csv"))


@login_required
@require_POST
def weekly_subscription(request: HttpRequest) -> HttpResponse:
    """Subscribe to the weekly report email or stop it (the state wanted, so a double submit
    has one effect); back to the reports page."""
    _require_reader(request)
    form = WeeklyForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Choose whether to get the weekly report."))
    if weekly.subscribe(request.user, form.cleaned_data["weekly"]):
        messages.success(
            request, _("You get the weekly report by email every Monday, in your time zone.")
        )
    else:
        messages.success(request, _("You no longer get the weekly report by email."))
    return redirect("reporting:index")


@login_required
@require_GET
def drilldown(request: HttpRequest, key: str) -> HttpResponse:
    """The tickets, escalations or ratings behind a number of the page, for the same period and
    slices (only of tickets the reader may see); an unknown figure is a 404, a period that
    cannot be read a 400."""
    _require_reader(request)
    try:
        form, found = read_drill(request.user, request.GET, key)
    except KeyError:
        raise Http404(_("There is no such figure.")) from None
    if found is None:
        return _bad_period(request, form)
    count = found.rows.count()
    rows = list(found.rows[:DRILL_ROWS])
    context = {
        "title": found.title,
        "kind": found.kind,
        "rows": rows,
        "count": count,
        "limited": count > len(rows),
        "first_day": form.cleaned_data["first_day"],
        "last_day": form.cleaned_data["last_day"],
        "query": _query(request),
    }
    return render(request, "reporting/drilldown.html", context)
