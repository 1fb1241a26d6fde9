"""Escalations over the API: the list (overall and per ticket), raise with the information
package, acknowledge, de-escalate with a reason — through `escalation.services`, the same
services the browser's forms call, with the same refusals (403, 409 for a stale request).

Escalations carry the information package (what happened, what was tried): they are listed
for the tickets the caller may read (`Ticket.objects.visible_to`), not for every ticket.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import Idempotent
from api.pagination import cursor
from api.serializers import LevelSerializer, RefSerializer, StrictSerializer, validated
from api.tickets import expected_version, parent_ticket_or_404, ticket_or_404
from escalation import services
from escalation.handoff import Package
from escalation.models import Escalation
from tickets.models import Team, Ticket

User = get_user_model()

ESCALATION_EXAMPLE = OpenApiExample(
    "An escalation",
    response_only=True,
    value={
        "id": 12,
        "ticket": "HD-2026-000042",
        "kind": "hierarchical",
        "status": "raised",
        "from_team": {"id": 1, "name": "Service Desk"},
        "to_team": {"id": 2, "name": "Application Support"},
        "to_level": {"id": 2, "name": "2nd level", "rank": 2},
        "reason": "Needs a database fix",
        "raised_at": "2026-12-07T09:30:00Z",
        "ack_due_at": "2026-12-07T10:00:00Z",
        "overdue": False,
        "package": {"summary": "Checkout fails", "actions_taken": "Restarted the app"},
    },
)


class EscalationSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference")
    from_team = RefSerializer()
    to_team = RefSerializer()
    from_level = LevelSerializer()
    to_level = LevelSerializer()
    raised_by = serializers.CharField(source="raised_by.username", allow_null=True, default=None)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", allow_null=True, default=None
    )
    rule = serializers.IntegerField(source="rule_id", allow_null=True)
    overdue = serializers.SerializerMethodField()
    package = serializers.SerializerMethodField()

    class Meta:
        model = Escalation
        fields = [
            "id",
            "ticket",
            "kind",
            "status",
            "cycle",
            "trigger",
            "rule",
            "reason",
            "from_team",
            "to_team",
            "from_level",
            "to_level",
            "raised_by",
            "raised_at",
            "ack_due_at",
            "overdue",
            "acknowledged_at",
            "acknowledged_by",
            "closed_at",
            "package",
        ]

    def get_overdue(self, escalation: Escalation) -> bool:
        """Waiting for acknowledgement past its deadline."""
        return (
            escalation.status == Escalation.Status.RAISED
            and escalation.ack_due_at is not None
            and escalation.ack_due_at < timezone.now()
        )

    def get_package(self, escalation: Escalation) -> dict[str, str]:
        return {name: getattr(escalation, name) for name in Escalation.PACKAGE_FIELDS}


class EscalationFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(field_name="status", choices=Escalation.Status.choices)
    kind = filters.ChoiceFilter(choices=Escalation.Kind.choices)
    team = filters.NumberFilter(field_name="to_team_id")
    level = filters.NumberFilter(field_name="to_level__rank")
    overdue = filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Escalation
        fields: list[str] = []

    def filter_overdue(self, queryset: QuerySet[Escalation], name: str, value: bool) -> Any:
        late = {"status": Escalation.Status.RAISED, "ack_due_at__lt": timezone.now()}
        return queryset.filter(**late) if value else queryset.exclude(**late)


EscalationCursor = cursor("-raised_at", "-id", page_size=25)


def visible_escalations(request: Request) -> QuerySet[Escalation]:
    return Escalation.objects.filter(
        ticket__in=Ticket.objects.visible_to(request.user).values("pk")
    ).select_related(
        "ticket", "from_team", "to_team", "from_level", "to_level", "raised_by", "acknowledged_by"
    )


LIST_DESCRIPTION = (
    "Escalations of the tickets you may read, the latest first, cursor-paginated. Filters: "
    "`state` (raised, acknowledged, escalated_further, closed; repeatable), `kind`, `team` "
    "(receiving team id), `level` (receiving level rank), `overdue` (waiting past the "
    "acknowledgement deadline)."
)


class EscalationList(generics.ListAPIView):
    serializer_class = EscalationSerializer
    pagination_class = EscalationCursor
    filterset_class = EscalationFilter

    def get_queryset(self) -> QuerySet[Escalation]:
        return visible_escalations(self.request)

    @extend_schema(description=LIST_DESCRIPTION, examples=[ESCALATION_EXAMPLE])
    def get(self, request: Request) -> Response:
        return self.list(request)


class EscalationRaiseSerializer(StrictSerializer):
    """A manual escalation: up the chain (`hierarchical`) or across to a functional team
    (`functional`, with `to_team`), with the information package."""

    kind = serializers.ChoiceField(
        choices=[Escalation.Kind.HIERARCHICAL, Escalation.Kind.FUNCTIONAL]
    )
    to_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.filter(is_active=True), required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=500)
    summary = serializers.CharField(max_length=5000)
    affected = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    impact = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    actions_taken = serializers.CharField(max_length=5000)
    next_steps = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    risks = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class TicketEscalations(Idempotent, generics.ListAPIView):
    serializer_class = EscalationSerializer
    pagination_class = EscalationCursor
    filterset_class = EscalationFilter

    def get_queryset(self) -> QuerySet[Escalation]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Escalation.objects.none()
        ticket = parent_ticket_or_404(self.request, self.kwargs["reference"])
        return visible_escalations(self.request).filter(ticket=ticket)

    @extend_schema(
        description="The ticket's escalations, the latest first (filters as for /escalations/).",
        examples=[ESCALATION_EXAMPLE],
    )
    def get(self, request: Request, reference: str) -> Response:
        return self.list(request)

    @extend_schema(
        description="Escalate the ticket by hand, with the information package (`summary`: "
        "what happened, `actions_taken`: what was tried, are required). Only those who may "
        "move the ticket; a `version` other than the ticket's is a 409 (a double submit "
        "escalates once).",
        request=EscalationRaiseSerializer,
        responses={201: EscalationSerializer},
        examples=[
            OpenApiExample(
                "Up the chain",
                request_only=True,
                value={
                    "kind": "hierarchical",
                    "reason": "Needs a database fix",
                    "summary": "Checkout fails for all customers since 09:10",
                    "actions_taken": "Restarted the app servers; no change",
                    "version": 3,
                },
            ),
            ESCALATION_EXAMPLE,
        ],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        data = validated(EscalationRaiseSerializer, request)
        package = Package(**{name: data.get(name, "") for name in Escalation.PACKAGE_FIELDS})
        escalation = services.escalation_raise(
            ticket=ticket,
            actor=request.user,
            kind=data["kind"],
            package=package,
            to_team=data.get("to_team"),
            reason=data["reason"],
            expected_version=expected_version(request, data.get("version")),
        )
        escalation = visible_escalations(request).get(pk=escalation.pk)
        return Response(EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)


class AcknowledgeSerializer(StrictSerializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    version = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class EscalationAcknowledge(Idempotent):
    @extend_schema(
        description="The receiving team takes the escalation; `assignee` is whom the ticket "
        "goes to with it (yourself, or for the team's lead a member). Acknowledging twice is a "
        "409 saying who acknowledged when.",
        request=AcknowledgeSerializer,
        responses=EscalationSerializer,
        examples=[
            OpenApiExample("Take it", request_only=True, value={"assignee": 7}),
            ESCALATION_EXAMPLE,
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        escalation = get_object_or_404(visible_escalations(request), pk=pk)
        data = validated(AcknowledgeSerializer, request)
        services.escalation_acknowledge(
            escalation=escalation,
            actor=request.user,
            assignee=data.get("assignee"),
            expected_version=expected_version(request, data.get("version")),
        )
        return Response(EscalationSerializer(visible_escalations(request).get(pk=pk)).data)


class DeescalateSerializer(StrictSerializer):
    to_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.filter(is_active=True))
    reason = serializers.CharField(max_length=500)
    version = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class TicketDeescalate(Idempotent):
    @extend_schema(
        description="The lead of the ticket's team hands it back to a team at the same or a "
        "lower level, with a reason.",
        request=DeescalateSerializer,
        responses={201: EscalationSerializer},
        examples=[
            OpenApiExample(
                "Hand back",
                request_only=True,
                value={"to_team": 1, "reason": "Fixed the database; the desk confirms"},
            ),
            ESCALATION_EXAMPLE,
        ],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        data = validated(DeescalateSerializer, request)
        escalation = services.escalation_deescalate(
            ticket=ticket,
            actor=request.user,
            to_team=data["to_team"],
            reason=data["reason"],
            expected_version=expected_version(request, data.get("version")),
        )
        escalation = visible_escalations(request).get(pk=escalation.pk)
        return Response(EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)
