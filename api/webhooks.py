"""The webhook events in the API's schema (OpenAPI 3.1 `webhooks`): what
`notifications.webhooks` posts to subscribed endpoints, with the API's ticket representation
as the payload's `ticket` (registered in `ApiConfig.ready`), and the events of major
incidents and services (`incidents.services.publish`: no ticket, the incident or the
service instead). Every `EventType` is described here (tests/api/test_schema.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiWebhook, extend_schema, inline_serializer
from rest_framework import serializers

from api.representation import WEBHOOK_OMITS
from api.serializers import (
    EscalationStateSerializer,
    SlaSerializer,
    SlaTargetSerializer,
    TicketSerializer,
)
from notifications.models import EventType


class WebhookEscalationStateSerializer(EscalationStateSerializer):
    """The ticket's escalation state without its waiting escalation (the escalation events
    carry it)."""

    open_escalation = None


class WebhookTicketSlaTargetSerializer(SlaTargetSerializer):
    """A target's SLA state without `business_left` (it depends on when it is read)."""

    business_left = None


class WebhookTicketSlaSerializer(SlaSerializer):
    first_response = WebhookTicketSlaTargetSerializer(target="first_response")
    next_update = WebhookTicketSlaTargetSerializer(target="next_update")
    resolution = WebhookTicketSlaTargetSerializer(target="resolution")


class WebhookTicketSerializer(TicketSerializer):
    """The API's ticket (without `transitions` and `version`: see
    `api.representation.WEBHOOK_OMITS`), plus the keys of the first payload version and the
    ticket's address in the browser."""

    sla = WebhookTicketSlaSerializer(source="*")
    escalation = WebhookEscalationStateSerializer(source="*")

    team = serializers.CharField(source="team.name", help_text="The owning team's name.")
    level = serializers.IntegerField(source="level.rank", help_text="The level's rank.")
    assignee = serializers.CharField(
        source="assignee.username", allow_null=True, help_text="The assignee's username."
    )
    major_incident = serializers.BooleanField(source="is_major_incident")
    url = serializers.URLField()

    class Meta(TicketSerializer.Meta):
        fields = [
            *(f for f in TicketSerializer.Meta.fields if f not in WEBHOOK_OMITS),
            "team",
            "level",
            "assignee",
            "major_incident",
            "url",
        ]


def _fields(**fields: Any) -> dict[str, Any]:
    return fields


def _string(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(allow_null=True, **kwargs)


SPECIFICS: dict[str, tuple[str, dict[str, Any]]] = {
    EventType.TICKET_CREATED: (
        "A ticket was opened.",
        _fields(channel=serializers.CharField()),
    ),
    EventType.TICKET_UPDATED: (
        "The assignee, team, level, priority or major-incident flag changed.",
        _fields(
            field=serializers.ChoiceField(
                choices=["assignee", "team", "level", "priority", "major_incident"]
            ),
            **{"from": serializers.JSONField(), "to": serializers.JSONField()},
            reason=serializers.CharField(),
        ),
    ),
    EventType.TICKET_TRANSITIONED: (
        "The status changed.",
        _fields(
            **{"from": serializers.CharField(), "to": serializers.CharField()},
            transition=_string(),
            automatic=serializers.BooleanField(),
        ),
    ),
    EventType.TICKET_MESSAGE: (
        "A public reply or a customer message (internal notes are never sent).",
        _fields(
            message=inline_serializer(
                "WebhookMessage",
                {
                    "id": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "author": serializers.CharField(),
                    "body": serializers.CharField(),
                    "created_at": serializers.DateTimeField(),
                },
                allow_null=True,
            )
        ),
    ),
    EventType.SLA_WARNING: ("An SLA target's warning passed.", {}),
    EventType.SLA_BREACHED: ("An SLA target was breached.", {}),
    EventType.ESCALATION_RAISED: (
        "The ticket was escalated (by a rule or by hand).",
        _fields(
            escalation=inline_serializer(
                "WebhookEscalationRaisedDetails",
                {
                    "id": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "trigger": _string(),
                    "rule": _string(),
                    "reason": _string(),
                    "from_team": _string(),
                    "to_team": _string(),
                    "from_level": serializers.IntegerField(allow_null=True),
                    "to_level": serializers.IntegerField(allow_null=True),
                },
            )
        ),
    ),
    EventType.ESCALATION_ACKNOWLEDGED: (
        "The receiving team acknowledged the escalation.",
        _fields(
            escalation=inline_serializer(
                "WebhookEscalationAcknowledgedDetails",
                {"id": serializers.IntegerField(), "team": _string()},
            )
        ),
    ),
    EventType.ESCALATION_DEESCALATED: (
        "A lead handed the ticket back.",
        _fields(
            escalation=inline_serializer(
                "WebhookEscalationDeescalatedDetails",
                {
                    "id": serializers.IntegerField(),
                    "from_team": _string(),
                    "to_team": _string(),
                    "reason": serializers.CharField(),
                },
            )
        ),
    ),
}
SLA = inline_serializer(
    "WebhookSla",
    {
        "target": serializers.ChoiceField(choices=["first_response", "next_update", "resolution"]),
        "due_at": _string(),
        "at": _string(),
    },
)
HEADERS = (
    "Sent as a POST with the headers `webhook-id` (the event id, the same on every retry), "
    "`webhook-timestamp` and `webhook-signature` (Standard Webhooks: `v1,` + base64 "
    "HMAC-SHA256 of `{id}.{timestamp}.{body}` with the endpoint's secret). Answer 2xx to "
    "accept; 410 Gone unsubscribes; anything else is retried with backoff."
)


def _described(
    event_type: str, description: str, data_fields: dict[str, Any], example: dict[str, Any]
) -> OpenApiWebhook:
    """One webhook event in the schema: the envelope every delivery shares (id, type,
    timestamp) around the event's `data`, the signing headers, and an example."""
    camel = "".join(part.capitalize() for part in event_type.replace(".", "_").split("_"))
    payload = inline_serializer(
        f"Webhook{camel}",
        {
            "id": serializers.CharField(help_text="The event id."),
            "type": serializers.ChoiceField(choices=[event_type]),
            "timestamp": serializers.DateTimeField(),
            "data": inline_serializer(f"Webhook{camel}Data", data_fields),
        },
    )
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=str(EventType(event_type).label),
            description=f"{description} {HEADERS}",
            request=payload,
            responses={200: None, 410: None},
            examples=[
                OpenApiExample(
                    event_type,
                    value={
                        "id": example["id"],
                        "type": event_type,
                        "timestamp": example["timestamp"],
                        "data": example["data"],
                    },
                )
            ],
        ),
    )


ACTOR_HELP = "Who caused it (username); null for the system."


def _webhook(member: EventType) -> OpenApiWebhook:
    event_type = str(member.value)
    description, specifics = SPECIFICS[event_type]
    if event_type in (EventType.SLA_WARNING, EventType.SLA_BREACHED):
        specifics = {"sla": SLA}
    return _described(
        event_type,
        description,
        {"ticket": WebhookTicketSerializer(), "actor": _string(help_text=ACTOR_HELP), **specifics},
        {
            "id": "evt_3f2a9c",
            "timestamp": "2026-12-07T09:30:00+00:00",
            "data": {"ticket": {"reference": "HD-2026-000042"}, "actor": None},
        },
    )


TICKET_CREATED = _webhook(EventType.TICKET_CREATED)
TICKET_UPDATED = _webhook(EventType.TICKET_UPDATED)
TICKET_TRANSITIONED = _webhook(EventType.TICKET_TRANSITIONED)
TICKET_MESSAGE = _webhook(EventType.TICKET_MESSAGE)
SLA_WARNING = _webhook(EventType.SLA_WARNING)
SLA_BREACHED = _webhook(EventType.SLA_BREACHED)
ESCALATION_RAISED = _webhook(EventType.ESCALATION_RAISED)
ESCALATION_ACKNOWLEDGED = _webhook(EventType.ESCALATION_ACKNOWLEDGED)
ESCALATION_DEESCALATED = _webhook(EventType.ESCALATION_DEESCALATED)


# --- Major incidents and services (`incidents.services`) ----------------------------------------

INCIDENT = inline_serializer(
    "WebhookIncident",
    {
        "id": serializers.IntegerField(),
        "reference": serializers.CharField(),
        "title": serializers.CharField(),
        "severity": serializers.IntegerField(help_text="1 = Sev 1 … 4 = Sev 4"),
        "status": serializers.CharField(
            help_text="investigating, identified, monitoring, resolved"
        ),
        "services": serializers.ListField(
            child=serializers.CharField(), help_text="The affected services' names."
        ),
        "manager": serializers.CharField(help_text="The incident manager's username."),
        "started_at": serializers.DateTimeField(),
        "next_update_due_at": serializers.DateTimeField(allow_null=True),
        "resolved_at": serializers.DateTimeField(allow_null=True),
        "url": serializers.URLField(),
    },
)
INCIDENT_SPECIFICS: dict[str, tuple[str, dict[str, Any]]] = {
    EventType.INCIDENT_DECLARED: ("A major incident was declared.", {"incident": INCIDENT}),
    EventType.INCIDENT_UPDATED: (
        "The incident manager sent an update to the linked customers.",
        {
            "incident": INCIDENT,
            "update": inline_serializer(
                "WebhookIncidentUpdate",
                {
                    "id": serializers.IntegerField(),
                    "kind": serializers.CharField(
                        help_text="initial_notice, status_update, closing_report"
                    ),
                    "text": serializers.CharField(),
                },
            ),
        },
    ),
    EventType.INCIDENT_RESOLVED: (
        "A major incident was resolved with its closing report.",
        {"incident": INCIDENT},
    ),
    EventType.SERVICE_STATUS_CHANGED: (
        "A service's status changed (by hand, or by a major incident's declaration or resolution).",
        {
            "service": inline_serializer(
                "WebhookService",
                {"id": serializers.IntegerField(), "name": serializers.CharField()},
            ),
            **{
                "from": serializers.CharField(help_text="operational, degraded, outage"),
                "to": serializers.CharField(help_text="operational, degraded, outage"),
            },
            "incident": serializers.IntegerField(
                allow_null=True, help_text="The incident's id when it made the change."
            ),
        },
    ),
}
INCIDENT_EXAMPLE = {
    "id": 7,
    "reference": "MI-7",
    "title": "Checkout down",
    "severity": 1,
    "status": "investigating",
    "services": ["Checkout"],
    "manager": "ann",
    "started_at": "2026-12-07T09:10:00+00:00",
    "next_update_due_at": "2026-12-07T09:42:00+00:00",
    "resolved_at": None,
    "url": "https://helpdesk.example.com/incidents/7/",
}
INCIDENT_EXAMPLES: dict[str, dict[str, Any]] = {
    EventType.INCIDENT_DECLARED: {"incident": INCIDENT_EXAMPLE},
    EventType.INCIDENT_UPDATED: {
        "incident": {**INCIDENT_EXAMPLE, "status": "identified"},
        "update": {"id": 31, "kind": "status_update", "text": "The cause is found."},
    },
    EventType.INCIDENT_RESOLVED: {
        "incident": {
            **INCIDENT_EXAMPLE,
            "status": "resolved",
            "next_update_due_at": None,
            "resolved_at": "2026-12-07T09:55:00+00:00",
        }
    },
    EventType.SERVICE_STATUS_CHANGED: {
        "service": {"id": 1, "name": "Checkout"},
        "from": "operational",
        "to": "outage",
        "incident": 7,
    },
}


def _incident_webhook(member: EventType) -> OpenApiWebhook:
    event_type = str(member.value)
    description, specifics = INCIDENT_SPECIFICS[event_type]
    return _described(
        event_type,
        description,
        {**specifics, "actor": _string(help_text=ACTOR_HELP)},
        {
            "id": "evt_8b41d2",
            "timestamp": "2026-12-07T09:12:00+00:00",
            "data": {**INCIDENT_EXAMPLES[event_type], "actor": "ann"},
        },
    )


INCIDENT_DECLARED = _incident_webhook(EventType.INCIDENT_DECLARED)
INCIDENT_UPDATED = _incident_webhook(EventType.INCIDENT_UPDATED)
INCIDENT_RESOLVED = _incident_webhook(EventType.INCIDENT_RESOLVED)
SERVICE_STATUS_CHANGED = _incident_webhook(EventType.SERVICE_STATUS_CHANGED)
