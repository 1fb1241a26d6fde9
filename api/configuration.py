"""Configuration over the API, for administrators: business calendars (with opening hours
and exceptions), SLA policies (with their targets), tier targets, the severity matrix,
escalation rules (with the "would fire at T" preview), webhook endpoints (their secrets are
never returned) and their deliveries, message templates.

Every write goes through the admin's own form (`api.adminforms`): one validation, the same
messages, the same follow-ups (clocks rebuilt, open tickets looked at again).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.adminforms import model_admin, require, resource_urls, serializer_for
from api.pagination import cursor
from escalation.models import EscalationRule
from escalation.preview import would_fire
from notifications.models import Delivery, MessageTemplate, WebhookEndpoint
from sla.models import (
    BusinessCalendar,
    CalendarException,
    OpeningHours,
    SeverityMatrix,
    SLAPolicy,
    SLATarget,
    TierTarget,
)

OpeningHoursSerializer = serializer_for(OpeningHours, ["id", "weekday", "start", "end"])
CalendarExceptionSerializer = serializer_for(
    CalendarException, ["id", "date", "kind", "start", "end", "name"]
)
CalendarSerializer = serializer_for(
    BusinessCalendar,
    [
        "id",
        "name",
        "timezone",
        "always_open",
        "holiday_country",
        "holiday_subdivision",
        "opening_hours",
        "exceptions",
        "updated_at",
    ],
    opening_hours=OpeningHoursSerializer(many=True, read_only=True),
    exceptions=CalendarExceptionSerializer(many=True, read_only=True),
)
SLATargetSerializer = serializer_for(
    SLATarget,
    [
        "id",
        "priority",
        "first_response",
        "next_update",
        "resolution",
        "warning_percent",
        "warning_lead",
    ],
)
POLICY_FIELDS = [f.name for f in SLAPolicy._meta.concrete_fields] + ["teams", "targets"]
SLAPolicySerializer = serializer_for(
    SLAPolicy, POLICY_FIELDS, targets=SLATargetSerializer(many=True, read_only=True)
)
TierTargetSerializer = serializer_for(TierTarget, ["id", "level", "acknowledge_within", "calendar"])
SeverityMatrixSerializer = serializer_for(SeverityMatrix, ["id", "name", "is_active", "grid"])
RULE_FIELDS = [f.name for f in EscalationRule._meta.concrete_fields] + [
    "teams",
    "levels",
    "notify_users",
]
EscalationRuleSerializer = serializer_for(EscalationRule, RULE_FIELDS)
# The secret is written (or generated) but never read back.
WebhookEndpointSerializer = serializer_for(
    WebhookEndpoint,
    ["id", "url", "description", "event_types", "is_active", "disabled_reason", "created_at"],
)
MessageTemplateSerializer = serializer_for(
    MessageTemplate,
    [f.name for f in MessageTemplate._meta.concrete_fields],
)


class DeliverySerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", allow_null=True, default=None)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "ticket",
            "kind",
            "status",
            "event_id",
            "payload",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "last_error",
            "created_at",
        ]


DeliveryCursor = cursor("-id", page_size=50)


class WebhookDeliveries(generics.ListAPIView):
    serializer_class = DeliverySerializer
    pagination_class = DeliveryCursor
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Delivery]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Delivery.objects.none()
        endpoint = get_object_or_404(WebhookEndpoint, pk=self.kwargs["pk"])
        return Delivery.objects.filter(endpoint=endpoint).select_related("ticket")

    @extend_schema(
        description="The deliveries to a webhook endpoint, the latest first: their status, "
        "attempts and error. Administrators only.",
        examples=[
            OpenApiExample(
                "A delivery",
                response_only=True,
                value={
                    "id": 5,
                    "ticket": "HD-2026-000042",
                    "channel": "webhook",
                    "status": "sent",
                    "kind": "escalation.raised",
                },
            )
        ],
    )
    def get(self, request: Request, pk: int) -> Response:
        require(model_admin(Delivery).has_view_permission(request), request)
        return self.list(request)


class PreviewSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    at = serializers.DateTimeField()
    active = serializers.BooleanField()
    tickets = serializers.ListField(child=serializers.CharField())


class RulePreview(generics.GenericAPIView):
    serializer_class = PreviewSerializer
    filter_backends: list = []

    @extend_schema(
        description="The open tickets the rule would fire on at `at` (an ISO 8601 instant; "
        "default now), evaluated by the engine on the tickets' current facts — nothing is "
        "written. The admin page's preview. Administrators only.",
        parameters=[OpenApiParameter("at", OpenApiTypes.DATETIME, OpenApiParameter.QUERY)],
        examples=[
            OpenApiExample(
                "Two tickets",
                response_only=True,
                value={
                    "rule": 3,
                    "at": "2026-12-07T12:00:00Z",
                    "active": True,
                    "tickets": ["HD-2026-000042", "HD-2026-000043"],
                },
            )
        ],
    )
    def get(self, request: Request, pk: int) -> Response:
        require(model_admin(EscalationRule).has_view_permission(request), request)
        rule = get_object_or_404(EscalationRule, pk=pk)
        raw = request.query_params.get("at", "").strip()
        at = timezone.now()
        if raw:
            try:
                parsed = parse_datetime(raw)
            except ValueError:
                parsed = None
            if parsed is None:
                raise ValidationError({"at": [_("Send an ISO 8601 date and time.")]})
            at = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        hits = would_fire(rule, at)
        body = {
            "rule": rule.pk,
            "at": at,
            "active": hits is not None,
            "tickets": [t.reference for t in hits or []],
        }
        return Response(PreviewSerializer(body).data)


PREFIX = "configuration"

urlpatterns = [
    *resource_urls(
        f"{PREFIX}/calendars",
        model=BusinessCalendar,
        serializer=CalendarSerializer,
        queryset=lambda: BusinessCalendar.objects.prefetch_related("opening_hours", "exceptions"),
        example={
            "id": 1,
            "name": "Office hours Berlin",
            "timezone": "Europe/Berlin",
            "always_open": False,
            "holiday_country": "DE",
            "holiday_subdivision": "BE",
            "opening_hours": [{"weekday": 0, "start": "08:00", "end": "18:00"}],
            "exceptions": [],
        },
    ),
    *resource_urls(
        f"{PREFIX}/sla-policies",
        model=SLAPolicy,
        serializer=SLAPolicySerializer,
        queryset=lambda: SLAPolicy.objects.prefetch_related("targets", "teams"),
        example={
            "id": 1,
            "name": "Standard",
            "order": 100,
            "is_active": True,
            "calendar": 1,
            "priority_min": 1,
            "priority_max": 4,
            "targets": [
                {"priority": 1, "first_response": "15 min", "resolution": "4 h"},
            ],
        },
    ),
    *resource_urls(
        f"{PREFIX}/tier-targets",
        model=TierTarget,
        serializer=TierTargetSerializer,
        example={"id": 1, "level": 2, "acknowledge_within": "30 min", "calendar": None},
    ),
    *resource_urls(
        f"{PREFIX}/severity-matrices",
        model=SeverityMatrix,
        serializer=SeverityMatrixSerializer,
        example={"id": 1, "name": "Default", "is_active": True, "cell_1_1": 1, "cell_4_4": 4},
    ),
    *resource_urls(
        f"{PREFIX}/escalation-rules",
        model=EscalationRule,
        serializer=EscalationRuleSerializer,
        queryset=lambda: EscalationRule.objects.prefetch_related("teams", "levels", "notify_users"),
        example={
            "id": 1,
            "name": "Sev 1 breach to management",
            "trigger": "sla_breach",
            "priority_min": 1,
            "priority_max": 1,
            "escalate": "hierarchical",
            "notify_level_rank": 4,
        },
    ),
    path(
        f"{PREFIX}/escalation-rules/<int:pk>/preview/",
        RulePreview.as_view(),
        name="rule-preview",
    ),
    *resource_urls(
        f"{PREFIX}/webhook-endpoints",
        model=WebhookEndpoint,
        serializer=WebhookEndpointSerializer,
        example={
            "id": 1,
            "url": "https://hooks.example.com/helpdesk",
            "description": "Chat bridge",
            "event_types": ["escalation.raised"],
            "is_active": True,
        },
    ),
    path(
        f"{PREFIX}/webhook-endpoints/<int:pk>/deliveries/",
        WebhookDeliveries.as_view(),
        name="webhook-deliveries",
    ),
    *resource_urls(
        f"{PREFIX}/message-templates",
        model=MessageTemplate,
        serializer=MessageTemplateSerializer,
        example={
            "id": 1,
            "name": "First notice",
            "kind": "initial_notice",
            "language": "en",
            "body": "We are working on {reference}: {subject}.",
            "order": 100,
            "is_active": True,
        },
    ),
]
