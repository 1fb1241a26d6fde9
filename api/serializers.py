"""What the API reads and writes. Read serializers only format; write serializers validate
like the browser forms and hand over to the services (never save a model themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import ApiToken
from api.representation import (
    OPEN_ESCALATION_ORDER,
    TicketWriter,
    business_left,
    ticket_row,
)
from escalation.models import Escalation
from mail.ccs import ticket_ccs
from sla.clock import CalendarSpec
from sla.services import calendar_spec
from tickets.models import Contact, Customer, Service, Team, Ticket, TicketEvent
from tickets.priority import Impact, Urgency

User = get_user_model()


def validated(serializer_class: type[serializers.Serializer], request: Any) -> dict[str, Any]:
    """The request body checked by `serializer_class`; a 400 problem with field errors
    otherwise."""
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not be silently ignored) and NUL bytes,
    which PostgreSQL cannot store in text."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field is not known.")] for name in unknown}
                )
            nul = [k for k, v in data.items() if isinstance(v, str) and "\x00" in v]
            if nul:
                raise serializers.ValidationError(
                    {name: [_("Null characters are not allowed.")] for name in nul}
                )
        return super().to_internal_value(data)


# --- Tokens -----------------------------------------------------------------------------------


class TokenSerializer(serializers.ModelSerializer):
    """A token as its owner sees it in a list: never its secret."""

    id = serializers.CharField(source="token_key", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "created", "expiry"]
        read_only_fields = ["created", "expiry"]


class NewTokenSerializer(TokenSerializer):
    """A token just made: the secret `token` appears here once and never again."""

    token = serializers.CharField(read_only=True)

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


# --- Tickets ----------------------------------------------------------------------------------


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class LevelSerializer(RefSerializer):
    rank = serializers.IntegerField()


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")


class SlaTargetSerializer(serializers.Serializer):
    """One SLA target of a ticket (first response, next update or resolution)."""

    due_at = serializers.DateTimeField(allow_null=True)
    warning_at = serializers.DateTimeField(allow_null=True)
    warned = serializers.BooleanField()
    breached = serializers.BooleanField()
    breached_at = serializers.DateTimeField(allow_null=True)
    business_left = serializers.IntegerField(
        allow_null=True,
        help_text="Business time in seconds from now (while the clock is paused: from the "
        "pause) to `due_at`, on the calendar of the ticket's SLA policy; negative once "
        "overdue. Null without a due instant or a policy, and once the target no longer "
        "runs (first response given, ticket resolved or closed).",
    )

    def __init__(self, *, target: str, **kwargs: Any) -> None:
        self.target = target
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        def when(suffix: str) -> str | None:
            value = getattr(instance, f"{self.target}_{suffix}")
            return None if value is None else self.fields["due_at"].to_representation(value)

        data = {
            "due_at": when("due_at"),
            "warning_at": when("warning_at"),
            "warned": getattr(instance, f"{self.target}_warned_at") is not None,
            "breached": getattr(instance, f"{self.target}_breached_at") is not None,
            "breached_at": when("breached_at"),
        }
        if "business_left" in self.fields and with_business_time(self):
            data["business_left"] = ticket_business_left(instance, self.target, reading_time(self))
        return data


def with_business_time(serializer: serializers.BaseSerializer) -> bool:
    """Whether `business_left` is shown: for the API's readers, not in webhooks (it depends
    on when the payload is read)."""
    return serializer.context.get("business_time", True)


def reading_time(serializer: serializers.BaseSerializer) -> datetime:
    """The instant a representation is made at (the views pass one `now` for a whole page)."""
    return serializer.context.get("now") or timezone.now()


def ticket_business_left(ticket: Ticket, target: str, now: datetime) -> int | None:
    """`api.representation.business_left` of a loaded ticket (its policy read only when
    needed)."""

    def spec() -> CalendarSpec | None:
        policy = ticket.sla_policy
        return None if policy is None else calendar_spec(policy.calendar)

    return business_left(
        target=target,
        due=getattr(ticket, f"{target}_due_at"),
        status=ticket.status,
        responded=ticket.first_responded_at is not None,
        paused_at=ticket.sla_paused_at,
        spec=spec,
        now=now,
    )


class SlaSerializer(serializers.Serializer):
    first_response = SlaTargetSerializer(target="first_response")
    next_update = SlaTargetSerializer(target="next_update")
    resolution = SlaTargetSerializer(target="resolution")
    paused = serializers.SerializerMethodField()
    paused_since = serializers.DateTimeField(source="sla_paused_at", allow_null=True)

    def get_paused(self, ticket: Ticket) -> bool:
        return ticket.sla_paused_at is not None


class OpenEscalationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    to_team = RefSerializer()
    raised_at = serializers.DateTimeField()
    ack_due_at = serializers.DateTimeField(allow_null=True)


class EscalationStateSerializer(serializers.Serializer):
    team = RefSerializer()
    level = LevelSerializer()
    assignee = UserRefSerializer(allow_null=True)
    escalation_cycle = serializers.IntegerField()
    open_escalation = serializers.SerializerMethodField()
    risk_score = serializers.IntegerField()
    risk_reasons = serializers.ListField(child=serializers.JSONField())

    @staticmethod
    def _open(ticket: Ticket) -> Any:
        # Prefetched by the views as `open_escalations` (raised, not yet acknowledged).
        escalations = ticket.open_escalations
        return escalations[0] if escalations else None

    @extend_schema_field(OpenEscalationSerializer(allow_null=True))
    def get_open_escalation(self, ticket: Ticket) -> dict[str, Any] | None:
        escalation = self._open(ticket)
        return None if escalation is None else OpenEscalationSerializer(escalation).data


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()


class ContactRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class TicketSerializer(serializers.ModelSerializer):
    """A ticket with its SLA and escalation state, the transitions the caller may run now and
    its `version` (send it back as `version` or `If-Match` with a write, to be told when
    someone else changed it first). Webhook payloads carry the same representation.

    The declaration of the representation: the schema, and the reference the tests hold
    `api.representation.TicketWriter` to, which writes the data (the list, the detail, the
    webhooks) without a model object or DRF's per-field machinery."""

    customer = RefSerializer(allow_null=True)
    service = RefSerializer(allow_null=True)
    requester = ContactRefSerializer(allow_null=True)
    sla = SlaSerializer(source="*")
    escalation = EscalationStateSerializer(source="*")
    transitions = TransitionSerializer(many=True, source="api_transitions", default=list)

    class Meta:
        model = Ticket
        fields = [
            "reference",
            "subject",
            "status",
            "priority",
            "impact",
            "urgency",
            "channel",
            "customer",
            "service",
            "requester",
            "is_major_incident",
            "created_at",
            "updated_at",
            "version",
            "sla",
            "escalation",
            "transitions",
        ]


class CcSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(help_text="The contact's name; empty when unknown.")


class TicketDetailSerializer(TicketSerializer):
    """One ticket: also its description and its CCs (read-only here; agents edit them on the
    ticket page)."""

    ccs = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "description", "ccs"]

    @extend_schema_field(CcSerializer(many=True))
    def get_ccs(self, ticket: Ticket) -> list[dict[str, str]]:
        return ccs_representation(ticket)


def ccs_representation(ticket: Ticket) -> list[dict[str, str]]:
    """The ticket's CCs as the detail shows them (one query; only the ticket's key is read)."""
    return [{"email": cc.email, "name": cc.name} for cc in ticket_ccs(ticket)]


class TicketCreateSerializer(StrictSerializer):
    """The browser's create form as JSON: the same fields, the same checks. Its validated
    data are the fields of `NewTicket`."""

    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.PrimaryKeyRelatedField(
        # With what `ticket_create` reads of it (its level, the team above), in the same query.
        queryset=Team.objects.filter(is_active=True).select_related("level", "escalates_to__level")
    )
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(), required=False, allow_null=True, default=None
    )
    impact = serializers.ChoiceField(choices=Impact.choices, default=Impact.MODERATE)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.MEDIUM)
    channel = serializers.ChoiceField(choices=Ticket.Channel.choices, default=Ticket.Channel.API)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True, default=None
    )
    requester = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
    )
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
    )


class TransitionRequestSerializer(StrictSerializer):
    version = serializers.IntegerField(required=False, min_value=0)


# The kinds of message one posts (SPECTACULAR_SETTINGS names their enum).
MESSAGE_KINDS = ("reply", "note", "customer")


class MessageCreateSerializer(StrictSerializer):
    """A public reply (the default), an internal note (`internal: true` or `kind: note`), or
    a message from the customer taken down by an agent (`kind: customer`, e.g. a phone call,
    with the `contact` who spoke or an `author_name`)."""

    body = serializers.CharField(max_length=100_000)
    internal = serializers.BooleanField(default=False)
    kind = serializers.ChoiceField(choices=MESSAGE_KINDS, required=False)
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.filter(is_active=True), required=False, allow_null=True
    )
    author_name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind") or ("note" if attrs.get("internal") else "reply")
        if kind != "customer" and (attrs.get("contact") or attrs.get("author_name")):
            raise serializers.ValidationError(
                {"contact": [_("Only a customer message has a contact or an author.")]}
            )
        return {**attrs, "kind": kind}


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)

    class Meta:
        model = TicketEvent
        fields = ["id", "kind", "actor", "payload", "created_at"]


def for_representation(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """`tickets` with what `TicketSerializer` shows, in a flat number of queries whatever
    their number: the related rows joined, the open escalation prefetched."""
    return tickets.select_related(
        "team", "level", "assignee", "customer", "service", "requester", "sla_policy__calendar"
    ).prefetch_related(
        Prefetch(
            "escalations",
            queryset=Escalation.objects.filter(status=Escalation.Status.RAISED)
            .select_related("to_team")
            .order_by(*OPEN_ESCALATION_ORDER),
            to_attr="open_escalations",
        )
    )


def ticket_representation(ticket: Ticket) -> dict[str, Any]:
    """The API's representation of `ticket` for a reader who is not a user (webhooks), as
    the service holds it (a hand-off records its events before it saves the row): the list
    item without `api.representation.WEBHOOK_OMITS`, `escalation.open_escalation` and the targets'
    `business_left`. Reads nothing more than the ticket's related rows."""
    return TicketWriter(webhook=True).write(ticket_row(ticket, with_policy=False))
