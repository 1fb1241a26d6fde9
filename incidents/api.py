"""The REST API of major incidents and services (/api/v1/incidents/, /api/v1/services/):
thin views over `incidents.services`, with the same rights as the pages. Incidents and
services are readable by agents (a non-agent gets 404s); running them is for leads of level 2
and above, the incident management team and admins (403 otherwise). Errors are problem
details (`api.problems`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


class ServiceSerializer(serializers.ModelSerializer):
    criticality = serializers.IntegerField(read_only=True, help_text="1 critical … 4 low")
    status = serializers.CharField(read_only=True, help_text="operational, degraded, outage")

    class Meta:
        model = Service
        fields = ["id", "name", "name_de", "criticality", "status", "status_changed_at"]


class UpdateSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = IncidentUpdate
        fields = ["id", "kind", "status", "text", "author", "created_at", "recipients"]


class LinkSerializer(serializers.ModelSerializer):
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
    services = ServiceSerializer(many=True, read_only=True)
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


class DeclareSerializer(serializers.Serializer):
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


class LinkRequestSerializer(serializers.Serializer):
    tickets = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, max_length=1000
    )


class UpdateRequestSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    status = serializers.CharField(
        required=False, validators=[one_of(list(MajorIncident.OPEN_STATUSES))]
    )
    intent = serializers.CharField(max_length=64, required=False, default="")
    version = serializers.IntegerField(required=False)


class ResolveRequestSerializer(serializers.Serializer):
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


class IncidentListCreate(APIView):
    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Major incidents, newest first (open ones with `?status=open`)."""
        rows = selectors.incidents_for(request.user)
        if request.query_params.get("status") == "open":
            rows = rows.filter(status__in=MajorIncident.OPEN_STATUSES)
        return Response(IncidentSerializer(rows[:100], many=True).data)

    @extend_schema(request=DeclareSerializer, responses={201: IncidentSerializer})
    def post(self, request: Request) -> Response:
        """Declare a major incident; `tickets` (references) are linked at once."""
        if not selectors.is_agent_user(request.user):
            raise Http404
        data = _data(DeclareSerializer, request)
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
    @extend_schema(responses=IncidentSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(IncidentSerializer(_incident(request, pk)).data)


class IncidentLinks(APIView):
    @extend_schema(responses=LinkSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        return Response(LinkSerializer(selectors.linked_tickets(incident), many=True).data)

    @extend_schema(request=LinkRequestSerializer, responses={201: LinkSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        data = _data(LinkRequestSerializer, request)
        links = services.incident_link(
            incident=incident,
            tickets=_tickets(request, data["tickets"]),
            actor=request.user,
            source=IncidentLink.Source.API,
        )
        rows = IncidentLink.objects.filter(pk__in=[link.pk for link in links]).select_related(
            "ticket", "linked_by"
        )
        return Response(LinkSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


class IncidentUnlink(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, reference: str) -> Response:
        incident = _incident(request, pk)
        # A linked ticket is known to the incident (its page lists it), visible or not.
        ticket = get_object_or_404(
            Ticket.objects.filter(incident_links__incident=incident).distinct(), reference=reference
        )
        services.incident_unlink(incident=incident, ticket=ticket, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IncidentUpdates(APIView):
    @extend_schema(responses=UpdateSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)
        return Response(
            UpdateSerializer(incident.updates.select_related("author")[:100], many=True).data
        )

    @extend_schema(request=UpdateRequestSerializer, responses={201: UpdateSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Send a status update to every linked customer (`intent`: send it once)."""
        incident = _incident(request, pk)
        data = _data(UpdateRequestSerializer, request)
        update = services.incident_post_update(
            incident=incident,
            actor=request.user,
            text=data["text"],
            status=data.get("status"),
            intent=data["intent"],
            expected_version=data.get("version"),
        )
        return Response(UpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class IncidentResolve(APIView):
    @extend_schema(request=ResolveRequestSerializer, responses=IncidentSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Resolve with the closing report; the linked tickets are resolved."""
        incident = _incident(request, pk)
        data = _data(ResolveRequestSerializer, request)
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


class ServiceList(APIView):
    @extend_schema(responses=ServiceSerializer(many=True))
    def get(self, request: Request) -> Response:
        if not selectors.is_agent_user(request.user):
            raise Http404
        rows = Service.objects.filter(is_active=True).order_by("name")
        return Response(ServiceSerializer(rows, many=True).data)


class ServiceStatus(APIView):
    @extend_schema(request=ServiceStatusRequestSerializer, responses=ServiceSerializer)
    def post(self, request: Request, pk: int) -> Response:
        if not selectors.is_agent_user(request.user):
            raise Http404
        service = get_object_or_404(Service, pk=pk, is_active=True)
        data = _data(ServiceStatusRequestSerializer, request)
        services.service_change_status(
            service=service, status=data["status"], actor=request.user, note=data["note"]
        )
        service.refresh_from_db()
        return Response(ServiceSerializer(service).data)
