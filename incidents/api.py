"""The REST API of major incidents and services (/api/v1/incidents/, /api/v1/services/):
thin views over `incidents.services`, with the same rights as the pages. Incidents and
services are readable by agents (a non-agent gets 404s); running them is for leads of level 2
and above, the incident management team and admins (403 otherwise). Errors are problem
details (`api.problems`).

Services are listed (and read) with the organisation (`GET /api/v1/services/`,
api/organisation.py); this module only changes a service's status. Every POST takes the
`Idempotency-Key` header (`api.idempotency.Idempotent`), like the rest of the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.idempotency import Idempotent
from incidents import selectors, services
from incidents.models import IncidentLink, IncidentUpdate, MajorIncident
from tickets.models import Service, Ticket
from tickets.priority import Priority

User = get_user_model()


# Choice values are plain strings and numbers here (documented in docs/incidents.md): their
# choice sets repeat the tickets' (priority, urgency, status) under other names, which the
# schema would otherwise report as colliding enums.


def one_of(values: list[str]) -> Any:
    def check(value: str) -> None:
        if value not in values:
            raise serializers.ValidationError(f"Use one of: {', '.join(values)}.")

    return check


class IncidentServiceSerializer(serializers.ModelSerializer):
    criticality = serializers.IntegerField(read_only=True, help_text="1 critical … 4 low")
    status = serializers.CharField(read_only=True, help_text="operational, degraded, outage")

    class Meta:
        model = Service
        fields = ["id", "name", "name_de", "criticality", "status", "status_changed_at"]


class IncidentUpdateSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = IncidentUpdate
        fields = ["id", "kind", "status", "text", "author", "created_at", "recipients"]


class IncidentLinkSerializer(serializers.ModelSerializer):
    ticket = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    linked_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    source = serializers.CharField(read_only=True)
    end = serializers.CharField(read_only=True)

    class Meta:
        model = IncidentLink
        fields = ["ticket", "source", "linked_by", "linked_at", "ended_at", "end"]


class IncidentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    manager = serializers.SlugRelatedField(slug_field="username", read_only=True)
    services = IncidentServiceSerializer(many=True, read_only=True)
    linked = serializers.IntegerField(read_only=True)
    severity = serializers.IntegerField(read_only=True, help_text="1 = Sev 1 … 4 = Sev 4")
    status = serializers.CharField(read_only=True)
    service_impact = serializers.CharField(read_only=True)

    class Meta:
        model = MajorIncident
        fields = [
            "id",
            "reference",
            "title",
            "severity",
            "status",
            "services",
            "service_impact",
            "manager",
            "started_at",
            "declared_at",
            "next_update_due_at",
            "last_update_at",
            "resolved_at",
            "linked",
            *MajorIncident.CLOSING_FIELDS,
            "version",
        ]


class IncidentDeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.IntegerField(min_value=1, max_value=4, default=Priority.CRITICAL)
    manager = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), required=False
    )
    services = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Service.objects.filter(is_active=True), required=False
    )
    service_impact = serializers.CharField(
        default=Service.Status.OUTAGE,
        validators=[one_of([Service.Status.DEGRADED, Service.Status.OUTAGE])],
    )
    tickets = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=1000
    )
    started_at = serializers.DateTimeField(required=False)


class IncidentLinkRequestSerializer(serializers.Serializer):
    tickets = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, max_length=1000
    )


class IncidentUpdateRequestSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    status = serializers.CharField(
        required=False, validators=[one_of(list(MajorIncident.OPEN_STATUSES))]
    )
    intent = serializers.CharField(max_length=64, required=False, default="")
    version = serializers.IntegerField(required=False)


class IncidentResolveRequestSerializer(serializers.Serializer):
    cause = serializers.CharField(max_length=5000)
    solution = serializers.CharField(max_length=5000)
    impact = serializers.CharField(max_length=5000, required=False, default="")
    lessons_learned = serializers.CharField(max_length=5000, required=False, default="")
    preventive_measures = serializers.CharField(max_length=5000, required=False, default="")
    text = serializers.CharField(max_length=5000, required=False, default="")
    intent = serializers.CharField(max_length=64, required=False, default="")
    version = serializers.IntegerField(required=False)


class ServiceStatusRequestSerializer(serializers.Serializer):
    status = serializers.CharField(validators=[one_of(list(Service.Status.values))])
    note = serializers.CharField(max_length=300, required=False, default="")


def _data(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


def _incident(request: Request, pk: int) -> MajorIncident:
    return get_object_or_404(selectors.incidents_for(request.user), pk=pk)


def _tickets(request: Request, references: list[str]) -> list[Ticket]:
    """The tickets by reference that the caller may see; 400 naming the others."""
    found = list(Ticket.objects.visible_to(request.user).filter(reference__in=references))
    missing = sorted(set(references) - {t.reference for t in found})
    if missing:
        raise serializers.ValidationError({"tickets": [f"Not found: {', '.join(missing)}"]})
    return found


# --- Examples of the schema (docs/incidents.md) --------------------------------------------------

SERVICE_EXAMPLE_VALUE = {
    "id": 1,
    "name": "Checkout",
    "name_de": "Kasse",
    "criticality": 1,
    "status": "outage",
    "status_changed_at": "2026-12-07T09:12:00Z",
}
INCIDENT_EXAMPLE_VALUE = {
    "id": 7,
    "reference": "MI-7",
    "title": "Checkout down",
    "severity": 1,
    "status": "investigating",
    "services": [SERVICE_EXAMPLE_VALUE],
    "service_impact": "outage",
    "manager": "ann",
    "started_at": "2026-12-07T09:10:00Z",
    "declared_at": "2026-12-07T09:12:00Z",
    "next_update_due_at": "2026-12-07T09:42:00Z",
    "last_update_at": "2026-12-07T09:12:00Z",
    "resolved_at": None,
    "linked": 14,
    "cause": "",
    "solution": "",
    "impact": "",
    "lessons_learned": "",
    "preventive_measures": "",
    "version": 2,
}
INCIDENT_EXAMPLE = OpenApiExample(
    "A major incident", response_only=True, value=INCIDENT_EXAMPLE_VALUE
)
INCIDENTS_EXAMPLE = OpenApiExample(
    "Major incidents", response_only=True, value=[INCIDENT_EXAMPLE_VALUE]
)
LINK_EXAMPLE_VALUE = {
    "ticket": "HD-2026-000042",
    "source": "api",
    "linked_by": "ann",
    "linked_at": "2026-12-07T09:15:00Z",
    "ended_at": None,
    "end": "",
}
LINKS_EXAMPLE = OpenApiExample("Linked tickets", response_only=True, value=[LINK_EXAMPLE_VALUE])
UPDATE_EXAMPLE_VALUE = {
    "id": 31,
    "kind": "status_update",
    "status": "identified",
    "text": "The payment provider's certificate expired; a new one is being installed.",
    "author": "ann",
    "created_at": "2026-12-07T09:40:00Z",
    "recipients": 14,
}
UPDATE_EXAMPLE = OpenApiExample("An update", response_only=True, value=UPDATE_EXAMPLE_VALUE)
UPDATES_EXAMPLE = OpenApiExample("Updates", response_only=True, value=[UPDATE_EXAMPLE_VALUE])
SERVICE_EXAMPLE = OpenApiExample("A service", response_only=True, value=SERVICE_EXAMPLE_VALUE)


class IncidentListCreate(Idempotent):
    @extend_schema(
        description="Major incidents, newest first (at most 100); `?status=open` for the open "
        "ones only. Agents read them; for anyone else the list is empty.",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="`open`: only the incidents not resolved yet.",
            )
        ],
        responses=IncidentSerializer(many=True),
        examples=[INCIDENTS_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        rows = selectors.incidents_for(request.user)
        if request.query_params.get("status") == "open":
            rows = rows.filter(status__in=MajorIncident.OPEN_STATUSES)
        return Response(IncidentSerializer(rows[:100], many=True).data)

    @extend_schema(
        description="Declare a major incident (leads of level 2 and above, the incident "
        "management team and admins; other agents get a 403). `tickets` (references) are "
        "linked at once, `services` (ids) take `service_impact`; `manager` (a username) "
        "defaults to you, `severity` to 1 (Sev 1).",
        request=IncidentDeclareSerializer,
        responses={201: IncidentSerializer},
        examples=[
            OpenApiExample(
                "Declare",
                request_only=True,
                value={
                    "title": "Checkout down",
                    "severity": 1,
                    "services": [1],
                    "service_impact": "outage",
                    "tickets": ["HD-2026-000042"],
                },
            ),
            INCIDENT_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        if not selectors.is_agent_user(request.user):
            raise Http404
        data = _data(IncidentDeclareSerializer, request)
        incident = services.incident_declare(
            actor=request.user,
            title=data["title"],
            severity=data["severity"],
            manager=data.get("manager") or request.user,
            services=data.get("services", []),
            tickets=_tickets(request, data.get("tickets", [])),
            started_at=data.get("started_at"),
            service_impact=data["service_impact"],
            link_source=IncidentLink.Source.API,
        )
        return Response(
            IncidentSerializer(_incident(request, incident.pk)).data, status=status.HTTP_201_CREATED
        )


class IncidentDetail(APIView):
    @extend_schema(
        description="One major incident with its services, the count of linked tickets and "
        "the closing report (empty until it is resolved).",
        responses=IncidentSerializer,
        examples=[INCIDENT_EXAMPLE],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(IncidentSerializer(_incident(request, pk)).data)


class IncidentLinks(Idempotent):
    @extend_schema(
        description="The tickets linked to the incident, running and ended links.",
        responses=IncidentLinkSerializer(many=True),
        examples=[LINKS_EXAMPLE],
    )
    def get(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        return Response(IncidentLinkSerializer(selectors.linked_tickets(incident), many=True).data)

    @extend_schema(
        description="Link tickets (references you may read; a 400 names the others) to the "
        "incident: its updates go to their customers, their escalation clocks hold. The "
        "answer lists the new links.",
        request=IncidentLinkRequestSerializer,
        responses={201: IncidentLinkSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Link", request_only=True, value={"tickets": ["HD-2026-000042", "HD-2026-000043"]}
            ),
            LINKS_EXAMPLE,
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        data = _data(IncidentLinkRequestSerializer, request)
        links = services.incident_link(
            incident=incident,
            tickets=_tickets(request, data["tickets"]),
            actor=request.user,
            source=IncidentLink.Source.API,
        )
        rows = IncidentLink.objects.filter(pk__in=[link.pk for link in links]).select_related(
            "ticket", "linked_by"
        )
        return Response(
            IncidentLinkSerializer(rows, many=True).data, status=status.HTTP_201_CREATED
        )


class IncidentUnlink(APIView):
    @extend_schema(
        description="End the ticket's link to the incident (a link ended already is a 400).",
        responses={204: None},
    )
    def delete(self, request: Request, pk: int, reference: str) -> Response:
        incident = _incident(request, pk)
        # A linked ticket is known to the incident (its page lists it), visible or not.
        ticket = get_object_or_404(
            Ticket.objects.filter(incident_links__incident=incident).distinct(), reference=reference
        )
        services.incident_unlink(incident=incident, ticket=ticket, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IncidentUpdates(Idempotent):
    @extend_schema(
        description="The incident's updates to the linked customers, newest first (at most 100).",
        responses=IncidentUpdateSerializer(many=True),
        examples=[UPDATES_EXAMPLE],
    )
    def get(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        return Response(
            IncidentUpdateSerializer(
                incident.updates.select_related("author")[:100], many=True
            ).data
        )

    @extend_schema(
        description="Send a status update to every linked customer, optionally moving the "
        "incident to another open `status` (investigating, identified, monitoring). The same "
        "`intent` again is a 409 (a double submit sends once), as is a `version` other than "
        "the incident's.",
        request=IncidentUpdateRequestSerializer,
        responses={201: IncidentUpdateSerializer},
        examples=[
            OpenApiExample(
                "Cause found",
                request_only=True,
                value={
                    "text": "The payment provider's certificate expired; a new one is being "
                    "installed.",
                    "status": "identified",
                    "intent": "7-update-2",
                    "version": 2,
                },
            ),
            UPDATE_EXAMPLE,
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        data = _data(IncidentUpdateRequestSerializer, request)
        update = services.incident_post_update(
            incident=incident,
            actor=request.user,
            text=data["text"],
            status=data.get("status"),
            intent=data["intent"],
            expected_version=data.get("version"),
        )
        return Response(IncidentUpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class IncidentResolve(Idempotent):
    @extend_schema(
        description="Resolve the incident with the closing report (`cause` and `solution` "
        "required): the report goes to the linked customers, the linked tickets are resolved "
        "and the services return to their status before the incident.",
        request=IncidentResolveRequestSerializer,
        responses=IncidentSerializer,
        examples=[
            OpenApiExample(
                "Closing report",
                request_only=True,
                value={
                    "cause": "The payment provider's certificate expired.",
                    "solution": "A new certificate was installed.",
                    "impact": "No payments for 45 minutes.",
                    "preventive_measures": "Certificate expiry is monitored.",
                    "intent": "7-resolve",
                    "version": 3,
                },
            ),
            OpenApiExample(
                "The resolved incident",
                response_only=True,
                value={
                    **INCIDENT_EXAMPLE_VALUE,
                    "status": "resolved",
                    "resolved_at": "2026-12-07T09:55:00Z",
                    "next_update_due_at": None,
                    "linked": 0,
                    "cause": "The payment provider's certificate expired.",
                    "solution": "A new certificate was installed.",
                    "version": 4,
                },
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        data = _data(IncidentResolveRequestSerializer, request)
        services.incident_resolve(
            incident=incident,
            actor=request.user,
            cause=data["cause"],
            solution=data["solution"],
            impact=data["impact"],
            lessons_learned=data["lessons_learned"],
            preventive_measures=data["preventive_measures"],
            text=data["text"],
            intent=data["intent"],
            expected_version=data.get("version"),
        )
        return Response(IncidentSerializer(_incident(request, pk)).data)


class ServiceStatus(Idempotent):
    @extend_schema(
        description="Set a service's status (operational, degraded, outage) with an "
        "optional `note`; the change is kept in the service's history and published as "
        "`service.status_changed`. The services themselves are listed under /services/.",
        request=ServiceStatusRequestSerializer,
        responses=IncidentServiceSerializer,
        examples=[
            OpenApiExample(
                "Degraded",
                request_only=True,
                value={"status": "degraded", "note": "Slow payments"},
            ),
            SERVICE_EXAMPLE,
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        if not selectors.is_agent_user(request.user):
            raise Http404
        service = get_object_or_404(Service, pk=pk, is_active=True)
        data = _data(ServiceStatusRequestSerializer, request)
        services.service_change_status(
            service=service, status=data["status"], actor=request.user, note=data["note"]
        )
        service.refresh_from_db()
        return Response(IncidentServiceSerializer(service).data)
