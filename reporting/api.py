"""The reports in the REST API (`/api/v1/reports/…`): the same figures, words and definitions as
the reports page (`reporting.reading`), for team leads and admins (others get 403). The query
string is the page's: `preset` (week, 30d, quarter, custom) or `start` and `end` (dates), and
the slices (team, level, priority, tier, service, channel, agent). A period that cannot be read is a
400 problem with the field errors.

- `GET /api/v1/reports/kpis/`: the KPI cards — per KPI its key, title, definition and figures
  (label, unit, this period, the previous period, the change).
- `GET /api/v1/reports/tables/`: the tables — key, title, definition, headers and rows (a
  ticket reference is a cell of its own, with the ticket's API address beside it).
"""

from __future__ import annotations

from typing import Any

from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reporting import table
from reporting.forms import ReportForm
from reporting.reading import read_report, report_tables
from reporting.selectors import sees_reports

PARAMETERS = [
    OpenApiParameter("preset", str, description="week, 30d (default), quarter or custom"),
    OpenApiParameter("start", OpenApiTypes.DATE, description="first day (custom)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="last day, included (custom)"),
    OpenApiParameter("team", int),
    OpenApiParameter("level", int),
    OpenApiParameter("priority", int),
    OpenApiParameter("tier", str),
    OpenApiParameter("service", int),
    OpenApiParameter("channel", str),
    OpenApiParameter("agent", int, description="the assignee's user id"),
]


class FigureSerializer(serializers.Serializer):
    label = serializers.CharField()
    unit = serializers.ChoiceField(choices=[table.MINUTES, table.PERCENT, table.COUNT, table.SCORE])
    current = serializers.FloatField(allow_null=True)
    previous = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True)


class CardSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    definition = serializers.CharField()
    figures = FigureSerializer(many=True)


class PeriodSerializer(serializers.Serializer):
    first_day = serializers.DateField()
    last_day = serializers.DateField()


class KpisSerializer(serializers.Serializer):
    period = PeriodSerializer()
    kpis = CardSerializer(many=True)


class TableSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    definition = serializers.CharField()
    headers = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))
    links = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(allow_null=True)),
        help_text="Per row, per cell: the API address of the ticket the cell names, else null.",
    )


class TablesSerializer(serializers.Serializer):
    period = PeriodSerializer()
    tables = TableSerializer(many=True)


def _read(request: Request) -> tuple[ReportForm, list[table.Card]]:
    if not sees_reports(request.user):
        raise PermissionDenied(_("Reports are for team leads and admins."))
    form, cards = read_report(request.user, request.query_params)
    if cards is None:
        raise serializers.ValidationError(_errors(form))
    return form, cards


def _errors(form: ReportForm) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if name == "__all__" else name): [str(e) for e in errors]
        for name, errors in form.errors.items()
    }


def _period(form: ReportForm) -> dict[str, Any]:
    return {"first_day": form.cleaned_data["first_day"], "last_day": form.cleaned_data["last_day"]}


def _api_link(cell: object) -> str | None:
    if isinstance(cell, table.Link):
        return reverse("api:ticket", args=[cell.value])
    return None


KPIS_EXAMPLE = OpenApiExample(
    "Time to first response, last 30 days",
    value={
        "period": {"first_day": "2026-11-08", "last_day": "2026-12-07"},
        "kpis": [
            {
                "key": "mtta",
                "title": "Time to first response",
                "definition": "From a ticket's creation to its first public reply.",
                "figures": [
                    {
                        "label": "Median",
                        "unit": table.MINUTES,
                        "current": 42.0,
                        "previous": 55.5,
                        "change": -24.3,
                    }
                ],
            }
        ],
    },
    response_only=True,
)
TABLES_EXAMPLE = OpenApiExample(
    "Hand-backs with their reasons",
    value={
        "period": {"first_day": "2026-11-08", "last_day": "2026-12-07"},
        "tables": [
            {
                "key": "hand_backs",
                "title": "Hand-backs",
                "definition": "Escalations handed back down, with the reason given.",
                "headers": ["Ticket", "From", "To", "Reason"],
                "rows": [["HD-2026-000812", "2nd level", "1st level", "Solved by the runbook"]],
                "links": [["/api/v1/tickets/HD-2026-000812/", None, None, None]],
            }
        ],
    },
    response_only=True,
)


class ReportKpis(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses=KpisSerializer,
        examples=[KPIS_EXAMPLE],
        description="The KPI cards of the reports page for the period and slices, each figure "
        "beside the previous period of the same length.",
    )
    def get(self, request: Request) -> Response:
        form, cards = _read(request)
        data = {
            "period": _period(form),
            "kpis": [
                {
                    "key": card.key,
                    "title": card.title,
                    "definition": card.definition,
                    "figures": [
                        {
                            "label": f.label,
                            "unit": f.unit,
                            "current": f.current,
                            "previous": f.previous,
                            "change": f.change,
                        }
                        for f in card.figures
                    ],
                }
                for card in cards
            ],
        }
        return Response(KpisSerializer(data).data)


class ReportTables(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses=TablesSerializer,
        examples=[TABLES_EXAMPLE],
        description="The tables of the reports page for the period and slices.",
    )
    def get(self, request: Request) -> Response:
        form, _cards = _read(request)
        tables = []
        for report_table in report_tables(request.user, form):
            rows = list(table.table_rows(report_table))
            tables.append(
                {
                    "key": report_table.key,
                    "title": report_table.title,
                    "definition": report_table.definition,
                    "headers": rows[0],
                    "rows": rows[1:],
                    "links": [[_api_link(cell) for cell in row] for row in report_table.rows],
                }
            )
        return Response(TablesSerializer({"period": _period(form), "tables": tables}).data)


urlpatterns = [
    path("kpis/", ReportKpis.as_view(), name="report_kpis"),
    path("tables/", ReportTables.as_view(), name="report_tables"),
]
