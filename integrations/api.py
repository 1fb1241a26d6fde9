"""REST endpoints of the integrations (mounted under /api/v1/ by api/urls.py):

- `POST /api/v1/alerts/`: alert intake, authenticated by an integration's own token;
- `POST /api/v1/import/tickets/`: import of historical tickets, admins only.

Thin: parse and validate, call `integrations.services` / `integrations.importer`, shape the
answer. Refusals are problem details (`api.problems`). Both take the `Idempotency-Key` header
like every POST of the API (`api.idempotency.Idempotent`): a monitoring system or an import
script that retries after a timeout gets the first answer back instead of a second effect
(without it, a resent alert joins its ticket by `dedup_key` and is counted again).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import TransitionNotAllowed
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import Idempotent
from integrations import alerts, importer, services
from integrations.models import Integration
from integrations.throttles import AlertRateThrottle
from tickets.models import TRANSITION_NAMES, Ticket
from tickets.priority import Impact, Urgency
from tickets.services import StaleRequest

MAX_ALERTS = 1000
MAX_IMPORT_BATCH = 100
MAX_HISTORY = 1000
TEXT_MAX = 100_000

# --- Authentication by integration token ------------------------------------------------------


class IntegrationTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <integration token>` (Alertmanager's `http_config.authorization`
    sends exactly this). The caller is the integration's service account; `request.auth` is
    the integration."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Integration] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Send “Authorization: Bearer <integration token>”."))
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise AuthenticationFailed(_("This integration token is not valid.")) from error
        integration = services.integration_for_token(secret)
        if integration is None or not integration.account.user.is_active:
            raise AuthenticationFailed(_("This integration token is not valid."))
        return integration.account.user, integration

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = IntegrationTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


# --- Alert payloads --------------------------------------------------------------------------


class LabelsField(serializers.DictField):
    """A flat object of short texts (labels, annotations): no nesting, no null characters."""

    child = serializers.CharField(allow_blank=True, max_length=TEXT_MAX)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value = super().to_internal_value(data)
        for key in value:
            if not key or len(key) > 200 or "\x00" in key:
                raise ApiValidationError(_("Names are 1 to 200 characters, without null."))
        if len(value) > 200:
            raise ApiValidationError(_("At most 200 entries."))
        return value


class AlertmanagerAlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=alerts.ALERT_STATUSES)
    labels = LabelsField(required=False, default=dict)
    annotations = LabelsField(required=False, default=dict)
    startsAt = serializers.DateTimeField(required=False, allow_null=True)
    endsAt = serializers.CharField(required=False, allow_blank=True, max_length=64)
    generatorURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    fingerprint = serializers.CharField(required=False, allow_blank=True, max_length=255)


class AlertmanagerSerializer(serializers.Serializer):
    """Prometheus Alertmanager's webhook payload, version 4, as Alertmanager sends it."""

    version = serializers.ChoiceField(choices=["4"])
    status = serializers.ChoiceField(choices=alerts.ALERT_STATUSES, required=False)
    receiver = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    groupKey = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    groupLabels = LabelsField(required=False, default=dict)
    commonLabels = LabelsField(required=False, default=dict)
    commonAnnotations = LabelsField(required=False, default=dict)
    externalURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    truncatedAlerts = serializers.IntegerField(required=False, min_value=0)
    alerts = AlertmanagerAlertSerializer(many=True, max_length=MAX_ALERTS)


class GenericAlertSerializer(serializers.Serializer):
    """The generic event: one alert, keyed by `dedup_key` (PagerDuty Events API style)."""

    dedup_key = serializers.CharField(max_length=255)
    action = serializers.ChoiceField(choices=["trigger", "resolve"])
    summary = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    severity = serializers.CharField(required=False, allow_blank=True, max_length=100)
    labels = LabelsField(required=False, default=dict)
    links = serializers.ListField(
        child=serializers.CharField(max_length=2000), required=False, max_length=20
    )
    started_at = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "trigger" and not attrs.get("summary", "").strip():
            raise ApiValidationError({"summary": [_("A triggered alert needs a summary.")]})
        return attrs


class AlertResultSerializer(serializers.Serializer):
    dedup_key = serializers.CharField()
    action = serializers.ChoiceField(
        choices=[
            services.CREATED,
            services.APPENDED,
            services.RESOLVED,
            services.NOTED,
            services.IGNORED,
        ]
    )
    ticket = serializers.CharField(allow_null=True, help_text="The ticket's reference.")
    count = serializers.IntegerField(help_text="Firing notifications of this alert so far.")


def parse_alerts(data: Any, integration: Integration) -> list[alerts.Alert]:
    """The alerts of a request body in either format; a 400 with field errors otherwise."""
    if not isinstance(data, dict):
        raise ApiValidationError({"non_field_errors": [_("Send a JSON object.")]})
    if "alerts" in data or "version" in data:
        form = AlertmanagerSerializer(data=data)
        form.is_valid(raise_exception=True)
        return alerts.from_alertmanager(
            form.validated_data, severity_label=integration.severity_label
        )
    form = GenericAlertSerializer(data=data)
    form.is_valid(raise_exception=True)
    return [alerts.from_generic(form.validated_data)]


class IsIntegration(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Integration)


class AlertIntake(Idempotent):
    authentication_classes = [IntegrationTokenAuthentication]
    permission_classes = [IsAuthenticated, IsIntegration]
    throttle_classes = [AlertRateThrottle]
    throttle_scope = "alerts"

    @extend_schema(
        description=(
            "Alert intake for monitoring. Send Prometheus Alertmanager's webhook payload "
            "(version 4) as it is, or the generic event. Authenticate with the integration's "
            "token: `Authorization: Bearer hdi_…`. A new deduplication key opens a ticket in "
            "the integration's team (channel monitoring, impact × urgency from its severity "
            "mapping); a repeat while that ticket is active adds the alert to it and counts "
            "it; a resolved alert adds a message and, if the integration says so, resolves "
            "the ticket."
        ),
        request=PolymorphicProxySerializer(
            component_name="AlertIntakeRequest",
            serializers=[GenericAlertSerializer, AlertmanagerSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: inline_serializer(
                "AlertIntakeResult", {"alerts": AlertResultSerializer(many=True)}
            )
        },
        examples=[
            OpenApiExample(
                "Generic event",
                request_only=True,
                value={
                    "dedup_key": "db-1/disk-full",
                    "action": "trigger",
                    "summary": "Disk full on db-1",
                    "severity": "critical",
                    "labels": {"instance": "db-1"},
                },
            ),
            OpenApiExample(
                "Answer",
                response_only=True,
                value={
                    "alerts": [
                        {
                            "dedup_key": "db-1/disk-full",
                            "action": "created",
                            "ticket": "HD-2026-000123",
                            "count": 1,
                        }
                    ]
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        integration: Integration = request.auth
        parsed = parse_alerts(request.data, integration)
        try:
            outcomes = services.alerts_ingest(integration=integration, alerts=parsed)
        except ValidationError as error:
            raise ApiValidationError(error.message_dict) from error
        return Response(
            {
                "alerts": [
                    {
                        "dedup_key": o.dedup_key,
                        "action": o.action,
                        "ticket": o.ticket.reference if o.ticket is not None else None,
                        "count": o.count,
                    }
                    for o in outcomes
                ]
            }
        )


# --- Import ------------------------------------------------------------------------------------


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    type = serializers.ChoiceField(choices=importer.ENTRY_TYPES)
    author = serializers.CharField(required=False, allow_blank=True, max_length=254)
    author_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    transition = serializers.ChoiceField(choices=TRANSITION_NAMES, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == importer.TRANSITION:
            if not attrs.get("transition"):
                raise ApiValidationError({"transition": [_("Name the transition.")]})
        elif attrs["type"] == importer.ACKNOWLEDGE:
            pass  # who and when is all it takes
        elif not attrs.get("body", "").strip():
            raise ApiValidationError({"body": [_("The message is empty.")]})
        return attrs


class ImportRecordSerializer(serializers.Serializer):
    """One ticket of another helpdesk, with its history (docs/integrations.md)."""

    system = serializers.SlugField(max_length=50)
    external_id = serializers.CharField(max_length=100)
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    team = serializers.CharField(max_length=100, help_text="A team's name.")
    customer = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="A customer's name."
    )
    impact = serializers.ChoiceField(
        choices=Impact.choices, required=False, default=Impact.MODERATE
    )
    urgency = serializers.ChoiceField(
        choices=Urgency.choices, required=False, default=Urgency.MEDIUM
    )
    channel = serializers.ChoiceField(
        choices=Ticket.Channel.choices, required=False, default=Ticket.Channel.EMAIL
    )
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(required=False, allow_blank=True, max_length=254)
    history = HistoryEntrySerializer(many=True, required=False, max_length=MAX_HISTORY)

    def validate_team(self, value: str) -> Any:
        team = importer.team_named(value)
        if team is None:
            raise ApiValidationError(_("There is no team of this name."))
        return team

    def validate_customer(self, value: str) -> Any:
        if not value.strip():
            return None
        customer = importer.customer_named(value)
        if customer is None:
            raise ApiValidationError(_("There is no customer of this name."))
        return customer

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        now = timezone.now()
        if attrs["created_at"] > now:
            raise ApiValidationError({"created_at": [_("This instant is in the future.")]})
        for entry in attrs.get("history", []):
            if not attrs["created_at"] <= entry["at"] <= now:
                raise ApiValidationError(
                    {"history": [_("Each entry lies between the creation and now.")]}
                )
        return attrs


class ImportBatchSerializer(serializers.Serializer):
    tickets = ImportRecordSerializer(many=True, max_length=MAX_IMPORT_BATCH, min_length=1)


class IsAdmin(BasePermission):
    message = gettext_lazy("Only admins can import tickets.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_active and request.user.is_superuser)


IMPORT_REFUSALS = (PermissionDenied, ValidationError, TransitionNotAllowed, StaleRequest)


def refusal_messages(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        return [str(m) for m in error.messages]
    return [str(error) or _("You may not do this.")]


class TicketImport(Idempotent):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        description=(
            "Import tickets of another helpdesk with their history, at most 100 per request "
            "(admins only). Each ticket's history is played in time order through the same "
            "services and escalation engine as live work, with the clock at each entry's "
            "instant: SLA state and escalations are computed, not copied. The same `system` "
            "and `external_id` again adds the entries not imported yet. Each ticket is "
            "imported on its own: the answer says per ticket what happened or why not."
        ),
        request=ImportBatchSerializer,
        responses={
            200: inline_serializer(
                "ImportResult",
                {
                    "tickets": inline_serializer(
                        "ImportedTicketResult",
                        {
                            "system": serializers.CharField(),
                            "external_id": serializers.CharField(),
                            "ticket": serializers.CharField(allow_null=True),
                            "created": serializers.BooleanField(),
                            "played": serializers.IntegerField(),
                            "errors": serializers.ListField(child=serializers.CharField()),
                        },
                        many=True,
                    )
                },
            )
        },
        examples=[
            OpenApiExample(
                "One ticket with its history",
                request_only=True,
                value={
                    "tickets": [
                        {
                            "system": "otrs",
                            "external_id": "2026031710000042",
                            "subject": "VPN drops every hour",
                            "description": "Since Monday the VPN drops every hour.",
                            "team": "Service Desk",
                            "customer": "ACME GmbH",
                            "created_at": "2026-03-17T08:02:00Z",
                            "created_by": "jo@acme.example",
                            "history": [
                                {
                                    "at": "2026-03-17T08:30:00Z",
                                    "type": "reply",
                                    "author": "ann",
                                    "body": "Which client version do you use?",
                                },
                                {
                                    "at": "2026-03-18T10:00:00Z",
                                    "type": "transition",
                                    "author": "ann",
                                    "transition": "resolve",
                                },
                            ],
                        }
                    ]
                },
            ),
            OpenApiExample(
                "Answer",
                response_only=True,
                value={
                    "tickets": [
                        {
                            "system": "otrs",
                            "external_id": "2026031710000042",
                            "ticket": "HD-2026-000124",
                            "created": True,
                            "played": 2,
                            "errors": [],
                        }
                    ]
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        form = ImportBatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        users: dict = {}
        results = []
        for record in form.validated_data["tickets"]:
            results.append(import_one(request.user, record, users))
        return Response({"tickets": results}, status=status.HTTP_200_OK)


def import_one(actor: Any, record: dict[str, Any], users: dict) -> dict[str, Any]:
    """One record through the importer, as the answer describes it (also for the command)."""
    base = {"system": record["system"], "external_id": record["external_id"]}
    try:
        try:
            outcome = importer.ticket_import(actor=actor, record=record, users=users)
        except IntegrityError:
            # Another import of the same external id created its ticket first (the unique
            # external id refused ours, nothing of ours is kept): add to that one instead.
            outcome = importer.ticket_import(actor=actor, record=record, users=users)
    except IMPORT_REFUSALS as error:
        return {
            **base,
            "ticket": None,
            "created": False,
            "played": 0,
            "errors": refusal_messages(error),
        }
    return {
        **base,
        "ticket": outcome.ticket.reference,
        "created": outcome.created,
        "played": outcome.played,
        "errors": [],
    }
