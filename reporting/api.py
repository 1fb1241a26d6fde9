"""The reports in the REST API (`/api/v1/reports/…`): the same figures, words and definitions as
the reports page (`reporting.reading`), for team leads and admins (others get 403). The query
string is the page's: `preset` (week, 30d, quarter, custom) or `start` and `end` (dates), and
the slices (team, level, priority, tier, service, channel, agent). A period that cannot be read is a
400 problem with the field errors.

- `GET /api/v1/reports/kpis/`: the KPI cards — per KPI its key, title, definition and figures
  (label, unit, this period, the previous period, the change).
- `GET /api/v1/reports/tables/`: the tables — key, title, definition, headers and rows (a
  ticket reference is a cell of its own, with the ticket's API address beside it).
- `GET /api/v1/reports/tickets/<key>/`, `…/escalations/<key>/`, `…/ratings/<key>/`: the rows
  behind a figure (the page's drill-downs, `reporting.drilldown`: the same condition as the
  number, only of tickets the reader may see), newest first, cursor-paginated (`cursor`,
  `page_size` up to 100), with the list's title and `count`. A key that names no list of that
  kind is a 404 problem.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import cursor
from reporting import drilldown, table
from reporting.forms import ReportForm
from reporting.reading import read_drill, read_report, report_tables
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


# The rows behind a figure ---------------------------------------------------------------------


class DrillTicketSerializer(serializers.Serializer):
    reference = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.IntegerField()
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    level = serializers.CharField(source="level.display_name", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    def get_url(self, ticket: Any) -> str:
        return reverse("api:ticket", args=[ticket.reference])


class DrillRowSerializer(serializers.Serializer):
    """A row of a ticket's (an escalation, a rating), with the ticket's reference and address."""

    id = serializers.IntegerField()
    ticket = serializers.CharField(source="ticket.reference")
    ticket_url = serializers.SerializerMethodField()

    def get_ticket_url(self, row: Any) -> str:
        return reverse("api:ticket", args=[row.ticket.reference])


class DrillEscalationSerializer(DrillRowSerializer):
    kind = serializers.CharField()
    trigger = serializers.CharField()
    from_level = serializers.CharField(source="from_level.display_name", default=None)
    to_level = serializers.CharField(source="to_level.display_name", default=None)
    raised_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class DrillRatingSerializer(DrillRowSerializer):
    score = serializers.IntegerField()
    comment = serializers.CharField()
    escalated = serializers.BooleanField()
    created_at = serializers.DateTimeField()


def _drill_page(name: str, rows: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The response of a drill list: the list's key, title and period, how many rows it holds
    in all, the cursor links and this page's rows."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "key": serializers.CharField(),
            "title": serializers.CharField(),
            "period": PeriodSerializer(),
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": rows(many=True),
        },
    )


EXAMPLE_TITLES = {
    drilldown.TICKETS: "Tickets created in the period whose customer had a ticket of the same "
    "service resolved within the 30 days before",
    drilldown.ESCALATIONS: "Hand-backs raised in the period",
    drilldown.RATINGS: "Low ratings given in the period",
}
DRILL_PERIOD = {"first_day": "2026-11-02", "last_day": "2026-11-08"}
DRILL_KINDS = {
    # kind: (row serializer, page serializer, cursor ordering, example key, example row)
    drilldown.TICKETS: (
        DrillTicketSerializer,
        _drill_page("DrillTicketsSerializer", DrillTicketSerializer),
        ("-created_at", "-id"),
        "recurring",
        {
            "reference": "HD-2026-000812",
            "subject": "Checkout fails again",
            "status": "open",
            "priority": 2,
            "team": "Service desk",
            "level": "1st level",
            "created_at": "2026-11-04T09:12:00+01:00",
            "resolved_at": None,
            "url": "/api/v1/tickets/HD-2026-000812/",
        },
    ),
    drilldown.ESCALATIONS: (
        DrillEscalationSerializer,
        _drill_page("DrillEscalationsSerializer", DrillEscalationSerializer),
        ("-raised_at", "-id"),
        "handbacks",
        {
            "id": 4711,
            "ticket": "HD-2026-000812",
            "ticket_url": "/api/v1/tickets/HD-2026-000812/",
            "kind": "de_escalation",
            "trigger": "",
            "from_level": "2nd level",
            "to_level": "1st level",
            "raised_at": "2026-11-04T11:40:00+01:00",
            "acknowledged_at": None,
        },
    ),
    drilldown.RATINGS: (
        DrillRatingSerializer,
        _drill_page("DrillRatingsSerializer", DrillRatingSerializer),
        ("-created_at", "-id"),
        "ratings_low",
        {
            "id": 93,
            "ticket": "HD-2026-000812",
            "ticket_url": "/api/v1/tickets/HD-2026-000812/",
            "score": 1,
            "comment": "Took three days.",
            "escalated": True,
            "created_at": "2026-11-05T16:02:00+01:00",
        },
    ),
}


def _drill_view(kind: str) -> type[APIView]:
    rows_serializer, page_serializer, ordering, example_key, example_row = DRILL_KINDS[kind]
    paginator_class = cursor(*ordering, page_size=50)

    class DrillList(APIView):
        @extend_schema(
            parameters=[
                *PARAMETERS,
                OpenApiParameter("cursor", str, description="the page (from next/previous)"),
                OpenApiParameter("page_size", int, description="rows per page, at most 100"),
            ],
            responses=page_serializer,
            examples=[
                OpenApiExample(
                    f"The {kind} behind '{example_key}'",
                    value={
                        "key": example_key,
                        "title": EXAMPLE_TITLES[kind],
                        "period": DRILL_PERIOD,
                        "count": 1,
                        "next": None,
                        "previous": None,
                        "results": [example_row],
                    },
                    response_only=True,
                )
            ],
            description=f"The {kind} behind a figure of the reports page (`key`, as the page's "
            "drill-down links name it), for the period and slices, only of tickets you may "
            "see; newest first, cursor-paginated. A key that names no list of "
            f"{kind} is a 404.",
        )
        def get(self, request: Request, key: str) -> Response:
            if not sees_reports(request.user):
                raise PermissionDenied(_("Reports are for team leads and admins."))
            if drilldown.kind_of(key) != kind:
                raise Http404(key)
            try:
                form, found = read_drill(request.user, request.query_params, key)
            except KeyError:
                raise Http404(key) from None
            if found is None:
                raise serializers.ValidationError(_errors(form))
            rows: QuerySet = found.rows
            paginator = paginator_class()
            page = paginator.paginate_queryset(rows, request, view=self)
            data = {
                "key": key,
                "title": found.title,
                "period": _period(form),
                "count": rows.count(),
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": rows_serializer(page, many=True).data,
            }
            return Response(data)  # `page_serializer` describes it for the schema

    DrillList.__name__ = DrillList.__qualname__ = f"Report{kind.capitalize()}Drill"
    return DrillList


urlpatterns = [
    path("kpis/", ReportKpis.as_view(), name="report_kpis"),
    path("tables/", ReportTables.as_view(), name="report_tables"),
    *(
        path(f"{kind}/<slug:key>/", _drill_view(kind).as_view(), name=f"report_{kind}")
        for kind in DRILL_KINDS
    ),
]
