"""Tickets over the API: list, detail, create, update, transitions, messages with
attachments, attachment downloads, the timeline, follow/unfollow.

Every read goes through `Ticket.objects.visible_to` (a ticket you may not read is a 404),
every write through a service of `tickets.services` (visibility, `can_move`, the audit trail
and notifications hold by construction). Refusals become problem details (`api.problems`).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import Idempotent
from api.pagination import cursor
from api.problems import problem
from api.representation import (
    ROW_COLUMNS,
    TicketWriter,
    open_escalations,
    with_configuration,
)
from api.serializers import (
    EventSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    StrictSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TransitionRequestSerializer,
    ccs_representation,
    for_representation,
    validated,
)
from escalation.models import Escalation
from helpdesk import uploads
from tickets import selectors, services
from tickets.models import Attachment, Contact, Message, Service, Ticket, TicketEvent
from tickets.priority import Impact, Priority, Urgency
from tickets.services import NewTicket

User = get_user_model()

TICKET_EXAMPLE = OpenApiExample(
    "A ticket",
    response_only=True,
    value={
        "reference": "HD-2026-000042",
        "subject": "Checkout fails with error 500",
        "status": "open",
        "priority": 1,
        "impact": 1,
        "urgency": 1,
        "version": 3,
        "transitions": [{"name": "pend", "label": "Set pending"}],
    },
)


# --- Reading ----------------------------------------------------------------------------------


class TicketFilter(filters.FilterSet):
    # `distinct=False`: one status per row, so nothing to de-duplicate (django-filter's
    # default DISTINCT made PostgreSQL sort every matching row, all columns, before LIMIT).
    status = filters.MultipleChoiceFilter(choices=Ticket.Status.choices, distinct=False)
    priority = filters.TypedChoiceFilter(choices=Priority.choices, coerce=int)
    team = filters.NumberFilter(field_name="team_id")
    level = filters.NumberFilter(field_name="level__rank")
    assignee = filters.NumberFilter(field_name="assignee_id")
    customer = filters.NumberFilter(field_name="customer_id")
    service = filters.NumberFilter(field_name="service_id")
    breached = filters.BooleanFilter(method="filter_breached")
    at_risk = filters.BooleanFilter(method="filter_at_risk")
    escalated = filters.BooleanFilter(method="filter_escalated")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    q = filters.CharFilter(method="filter_text", max_length=200)

    class Meta:
        model = Ticket
        fields: list[str] = []

    @staticmethod
    def _either(queryset: QuerySet[Ticket], condition: Q, value: bool) -> QuerySet[Ticket]:
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def filter_breached(self, queryset: QuerySet[Ticket], name: str, value: bool) -> Any:
        return self._either(queryset, selectors.sla_breached_q(), value)

    def filter_at_risk(self, queryset: QuerySet[Ticket], name: str, value: bool) -> Any:
        return self._either(queryset, selectors.sla_at_risk_q(), value)

    def filter_escalated(self, queryset: QuerySet[Ticket], name: str, value: bool) -> Any:
        # An escalation that is still open: raised and waiting, or acknowledged.
        open_escalation = Escalation.objects.filter(
            ticket=OuterRef("pk"),
            status__in=[Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED],
        ).exclude(kind=Escalation.Kind.DE_ESCALATION)
        return self._either(queryset, Q(Exists(open_escalation)), value)

    def filter_text(self, queryset: QuerySet[Ticket], name: str, value: str) -> Any:
        text = value.replace("\x00", "").strip()
        if not text:
            return queryset
        return queryset.filter(
            Q(reference__icontains=text)
            | Q(subject__icontains=text)
            | Q(customer__name__icontains=text)
            | Q(description__icontains=text)
        )


class AskedFilters(filters.DjangoFilterBackend):
    """django-filter's backend, left out when the request names none of the filter set's
    parameters (every filter of TicketFilter is one parameter, named as the filter): then it
    cannot change the list, and building the filter set (a deep copy of each filter, a form
    class made anew, its validation) cost some 3 ms of CPU, a sixth of an unfiltered page."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


class StrictOrdering(OrderingFilter):
    """`ordering` from the allowlist only: anything else is a 400, not silently ignored."""

    def get_ordering(self, request, queryset, view):  # type: ignore[no-untyped-def]
        raw = request.query_params.get(self.ordering_param)
        if raw is not None and raw not in view.ordering_fields_allowed:
            raise ValidationError(
                {
                    self.ordering_param: [
                        _("Use one of: %(choices)s.")
                        % {"choices": ", ".join(view.ordering_fields_allowed)}
                    ]
                }
            )
        return list(view.orderings[raw]) if raw else list(view.ordering)


TicketCursor = cursor("-created_at", "-id", page_size=25)


EventCursor = cursor("created_at", "id", page_size=50)


def visible_tickets(request: Request) -> QuerySet[Ticket]:
    """The tickets the caller may read, with what the serializers show in a flat number of
    queries (whatever the page size)."""
    return for_representation(Ticket.objects.visible_to(request.user))


def ticket_or_404(request: Request, reference: str) -> Ticket:
    return get_object_or_404(visible_tickets(request), reference=reference)


def parent_ticket_or_404(request: Request, reference: str) -> Ticket:
    """The ticket of a sub-resource (messages, events, files): visible, nothing joined."""
    return get_object_or_404(Ticket.objects.visible_to(request.user), reference=reference)


@functools.cache
def transitions_follow_status() -> bool:
    """Whether the transitions open to someone who may move a ticket follow from its status
    alone: none of the status machine's transitions has a condition or a permission (which
    could look at the ticket itself)."""
    field = Ticket._meta.get_field("status")
    return all(not t.conditions and not t.permission for t in field.get_all_transitions(Ticket))


def ticket_transitions(ticket: Ticket, user: Any) -> list[dict[str, str]]:
    """The transitions `user` may run on `ticket` now (someone who may move it)."""
    return [
        {"name": name, "label": label}
        for name, label in services.available_transitions(ticket, user)
    ]


def status_transitions(status: str, user: Any) -> list[dict[str, str]]:
    """What someone who may move a ticket may run on it in `status`, while the transitions
    follow from the status alone (`transitions_follow_status`)."""
    return ticket_transitions(Ticket(status=status), user)


def row_transitions(rows: list[dict[str, Any]], user: Any) -> dict[int, list[dict[str, str]]]:
    """What `user` may run now on each ticket of a page read as rows (ROW_COLUMNS), by
    ticket id, in one query (`services.movable_keys`). The transitions themselves need none:
    while they follow from the status alone they are worked out once per status; should one
    ever depend on more, the movable tickets are read whole (one query more) and asked one
    by one."""
    may_move = services.movable_keys(
        [(row["id"], row["team__id"], row["level__rank"]) for row in rows], user
    )
    if not transitions_follow_status():
        tickets = Ticket.objects.filter(pk__in=may_move).select_related("team", "level")
        return {ticket.pk: ticket_transitions(ticket, user) for ticket in tickets}
    per_status: dict[str, list[dict[str, str]]] = {}
    allowed = {}
    for row in rows:
        if row["id"] in may_move:
            status = row["status"]
            if status not in per_status:
                per_status[status] = status_transitions(status, user)
            allowed[row["id"]] = per_status[status]
    return allowed


def ticket_page(rows: list[dict[str, Any]], user: Any) -> list[dict[str, Any]]:
    """The representation of a page of tickets read as rows (ROW_COLUMNS), for `user`: two
    queries whatever the page size (the open escalations, `movable_keys`), and one instant
    for the whole page, from which every business time left is counted."""
    with_configuration(rows)
    ids = [row["id"] for row in rows]
    waiting = open_escalations(ids)
    transitions = row_transitions(rows, user)
    writer = TicketWriter()
    return [
        writer.write(
            row,
            open_escalation=waiting.get(row["id"]),
            transitions=transitions.get(row["id"], ()),
        )
        for row in rows
    ]


def expected_version(request: Request, form_version: int | None) -> int | None:
    """The version the client read: the body's `version`, else an `If-Match: "<n>"` header."""
    if form_version is not None:
        return form_version
    raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationError({"If-Match": [_("Send the ticket's version, e.g. “3”.")]})
    return int(raw)


def detail_response(request: Request, reference: str, code: int = 200) -> Response:
    """The ticket as `GET /tickets/{reference}/` shows it (after a write: as the write left
    it); a 404 when the caller may not read it."""
    return rows_response(
        request, Ticket.objects.visible_to(request.user).filter(reference=reference), code
    )


def ticket_response(request: Request, ticket: Ticket, code: int = 200) -> Response:
    """A ticket the caller has just opened, as the detail shows it: read by its key, not
    through `visible_to` (its creator may always read it)."""
    return rows_response(request, Ticket.objects.filter(pk=ticket.pk), code)


def rows_response(request: Request, tickets: QuerySet[Ticket], code: int) -> Response:
    """The first of `tickets` read as a row like a list's page (`ticket_page`) with its
    description and CCs; a 404 when there is none. The `ETag` is its version."""
    rows = list(tickets.values(*ROW_COLUMNS, "description")[:1])
    if not rows:
        raise Http404
    row = rows[0]
    data = ticket_page(rows, request.user)[0]
    data["description"] = row["description"]
    data["ccs"] = ccs_representation(Ticket(pk=row["id"]))
    response = Response(data, status=code)
    response["ETag"] = f'"{row["version"]}"'
    return response


class TicketListCreate(Idempotent, generics.ListCreateAPIView):
    serializer_class = TicketSerializer
    pagination_class = TicketCursor
    filter_backends = [AskedFilters, StrictOrdering]
    filterset_class = TicketFilter
    # Each `ordering` a client may ask for, as the ORDER BY it stands for: a total order (the
    # id breaks ties) that an index of the ticket table serves as it is (`ticket_created_id`,
    # `ticket_updated_id`, `ticket_priority_created`), so a page reads its rows and stops.
    orderings = {
        "-created_at": ("-created_at", "-id"),
        "created_at": ("created_at", "id"),
        "-updated_at": ("-updated_at", "-id"),
        "updated_at": ("updated_at", "id"),
        "priority": ("priority", "-created_at", "-id"),
        "-priority": ("-priority", "created_at", "id"),
    }
    ordering = orderings["-created_at"]
    ordering_fields = ordering_fields_allowed = tuple(orderings)

    def get_queryset(self) -> QuerySet[Ticket]:
        # The page is read as rows (`get`): nothing joined or prefetched here.
        return Ticket.objects.visible_to(self.request.user)

    @extend_schema(
        description="The tickets you may read, newest first, cursor-paginated (`page_size` up "
        "to 100). Each carries its SLA and escalation state and the transitions you may run "
        "now. Filters: `status` (repeatable), `priority`, `team`, `level` (rank), `assignee`, "
        "`customer`, `service`, `breached`, `at_risk`, `escalated`, `updated_since`, `q` "
        "(text); `ordering` from: created_at, updated_at, priority (prefix `-` to reverse).",
        examples=[TICKET_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        # `serializer_class` describes the items (the schema); they are written from rows by
        # `api.representation.TicketWriter`, without a model object.
        rows = self.filter_queryset(self.get_queryset()).values(*ROW_COLUMNS)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ticket_page(list(page or []), request.user))

    @extend_schema(
        description="Open a ticket (the same checks as the browser form). Agents only.",
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer},
        examples=[
            OpenApiExample(
                "A Sev 1 from monitoring",
                request_only=True,
                value={"subject": "Checkout down", "team": 1, "impact": 1, "urgency": 1},
            ),
            TICKET_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        if not services.is_agent(request.user):
            raise PermissionDenied(_("Only agents can do this."))
        data = NewTicket(**validated(TicketCreateSerializer, request))
        ticket = services.ticket_create(actor=request.user, data=data)
        # Read back by key, without the visibility test: its creator may read it
        # (`visible_to` lets everyone read the tickets they created), and that test was two
        # permission queries and the heaviest statement of the request.
        return ticket_response(request, ticket, status.HTTP_201_CREATED)


# --- Changing a ticket ------------------------------------------------------------------------


class TicketUpdateSerializer(StrictSerializer):
    """The fields an agent who may move the ticket can change. Each group goes to its own
    service: details (`ticket_update_details`), impact/urgency/priority with a `reason`
    (`ticket_change_priority`), team and assignee (`ticket_assign`, a hand-off when the team
    changes; a new team without `assignee` leaves the ticket unassigned)."""

    version = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    subject = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), required=False, allow_null=True
    )
    requester = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    team = serializers.PrimaryKeyRelatedField(queryset=selectors.assignable_teams(), required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if {"impact", "urgency", "priority"} & set(attrs) and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": [_("Say why the priority changes.")]})
        return attrs


def ticket_update(
    *, ticket: Ticket, actor: Any, data: dict[str, Any], expected: int | None
) -> Ticket:
    """One PATCH, all or nothing: each group of fields through its service, in one
    transaction. The first service checks the version the client read; the next ones the
    version the previous one left."""
    with transaction.atomic():
        details = {k: data[k] for k in services.DETAIL_FIELDS if k in data}
        if details:
            ticket = services.ticket_update_details(
                ticket=ticket, actor=actor, changes=details, expected_version=expected
            )
            expected = ticket.version
        if {"impact", "urgency", "priority"} & set(data):
            ticket = services.ticket_change_priority(
                ticket=ticket,
                actor=actor,
                reason=data["reason"],
                impact=data.get("impact"),
                urgency=data.get("urgency"),
                priority=data.get("priority"),
                expected_version=expected,
            )
            expected = ticket.version
        if "team" in data or "assignee" in data:
            team = data.get("team")
            moving = team is not None and team.pk != ticket.team_id
            assignee = data.get("assignee", None if moving else ticket.assignee)
            ticket = services.ticket_assign(
                ticket=ticket,
                actor=actor,
                assignee=assignee,
                team=team,
                reason=data.get("reason", ""),
                expected_version=expected,
            )
            expected = ticket.version
        if expected is not None and not set(data) - {"version", "reason"}:
            # Nothing to change, but a claim about the state: check it like a write would.
            services.check_move(ticket, actor, expected)
    return ticket


class TicketDetail(Idempotent):
    parser_classes = [JSONParser]

    @extend_schema(
        description="One ticket with its SLA and escalation state and the transitions you may "
        "run now; 404 if you may not read it. The `ETag` is its version.",
        responses=TicketDetailSerializer,
        examples=[TICKET_EXAMPLE],
    )
    def get(self, request: Request, reference: str) -> Response:
        return detail_response(request, reference)

    @extend_schema(
        description="Change what an agent may change: subject, description, affected service, "
        "requester; impact/urgency/priority (with a `reason`); team and assignee. Only those "
        "who may move the ticket (its team, the levels above, admins). Send the `version` you "
        "read (or `If-Match`) to get a 409 instead of overwriting someone else's change.",
        request=TicketUpdateSerializer,
        responses=TicketDetailSerializer,
        examples=[
            OpenApiExample(
                "Raise to Sev 1",
                request_only=True,
                value={"version": 3, "impact": 1, "urgency": 1, "reason": "All shops down"},
            ),
            TICKET_EXAMPLE,
        ],
    )
    def patch(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        data = validated(TicketUpdateSerializer, request)
        ticket_update(
            ticket=ticket,
            actor=request.user,
            data=data,
            expected=expected_version(request, data.get("version")),
        )
        return detail_response(request, reference)


class TicketTransition(Idempotent):
    @extend_schema(
        description="Run a status transition (open, pend, resume, resolve, reopen, close). "
        "Send the `version` you read (or `If-Match`) to get a 409 when the ticket changed.",
        request=TransitionRequestSerializer,
        responses=TicketDetailSerializer,
        examples=[
            OpenApiExample("With the version read", request_only=True, value={"version": 3}),
            TICKET_EXAMPLE,
        ],
    )
    def post(self, request: Request, reference: str, name: str) -> Response:
        ticket = ticket_or_404(request, reference)
        data = validated(TransitionRequestSerializer, request)
        services.ticket_transition(
            ticket=ticket,
            actor=request.user,
            name=name,
            expected_version=expected_version(request, data.get("version")),
        )
        return detail_response(request, reference)


class TicketFollow(Idempotent):
    @extend_schema(
        description="Follow the ticket: you are told of its changes. Agents who may read it.",
        request=None,
        responses={200: TicketDetailSerializer},
        examples=[TICKET_EXAMPLE],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        services.ticket_follow(ticket=ticket, actor=request.user, follow=True)
        return detail_response(request, reference)

    @extend_schema(
        description="Stop following the ticket.",
        responses={200: TicketDetailSerializer},
        examples=[TICKET_EXAMPLE],
    )
    def delete(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        services.ticket_follow(ticket=ticket, actor=request.user, follow=False)
        return detail_response(request, reference)


# --- Messages and attachments -----------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "created_at", "url"]

    def get_url(self, attachment: Attachment) -> str:
        return reverse(
            "api:attachment", kwargs={"reference": self.context["reference"], "pk": attachment.pk}
        )


class MessageWithAttachmentsSerializer(MessageSerializer):
    author = serializers.CharField(source="display_author")
    attachments = AttachmentSerializer(many=True, source="attachments.all")


MESSAGE_EXAMPLE = OpenApiExample(
    "A message",
    response_only=True,
    value={
        "id": 7,
        "kind": "reply",
        "author": "ann",
        "body": "We are on it.",
        "created_at": "2026-12-07T09:30:00Z",
        "attachments": [],
    },
)


class MessageUploadSerializer(MessageCreateSerializer):
    attachments = serializers.ListField(child=serializers.FileField(), required=False, default=list)


def message_files(request: Request) -> list[Any]:
    """The uploaded files of a multipart message; a 413 problem when the upload handler
    stopped the request at a limit."""
    files = list(request.FILES.getlist("attachments"))  # parses the body
    refusal = uploads.refusal(request)
    if refusal:
        raise TooLarge(refusal)
    return files


class TooLarge(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


MessageCursor = cursor("created_at", "id", page_size=50)


class TicketMessages(Idempotent, generics.ListAPIView):
    parser_classes = [JSONParser, MultiPartParser]
    serializer_class = MessageWithAttachmentsSerializer
    pagination_class = MessageCursor
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Message.objects.none()
        ticket = parent_ticket_or_404(self.request, self.kwargs["reference"])
        return ticket.messages.select_related("author").prefetch_related("attachments")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "reference": self.kwargs.get("reference")}

    @extend_schema(
        description="The ticket's messages (replies, internal notes, customer messages), "
        "oldest first, with their attachments; cursor-paginated.",
        examples=[MESSAGE_EXAMPLE],
    )
    def get(self, request: Request, reference: str) -> Response:
        return self.list(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, TooLarge):
            return problem(413, exc.message, errors={"attachments": [exc.message]})
        return super().handle_exception(exc)

    @extend_schema(
        description="A public reply, an internal note (`internal: true` or `kind: note`), or a "
        "customer message an agent took down (`kind: customer`, with `contact` or "
        "`author_name`; it reopens a resolved ticket as the customer's mail would); as JSON, or "
        "as multipart/form-data with `attachments` (the browser's limits: files per message, "
        "bytes per file and per ticket; 413 beyond). The message's `Idempotency-Key` also "
        "keeps it from being sent twice after the key expired (409).",
        request={
            "application/json": MessageCreateSerializer,
            "multipart/form-data": MessageUploadSerializer,
        },
        responses={201: MessageWithAttachmentsSerializer},
        examples=[
            OpenApiExample("A reply", request_only=True, value={"body": "We are on it."}),
            MESSAGE_EXAMPLE,
        ],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        files = message_files(request)
        body = request.data
        if isinstance(body, QueryDict):  # multipart: the fields beside the files
            body = {k: body[k] for k in body if k != "attachments"}
        form = MessageCreateSerializer(data=body)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        # The message's own once-only token (64 characters): it holds after the key expired.
        key = request.headers.get("Idempotency-Key", "")
        if len(key) > 64:
            key = hashlib.sha256(key.encode()).hexdigest()
        if not services.is_agent(request.user):
            raise PermissionDenied(_("Only agents can do this."))
        common = {"ticket": ticket, "actor": request.user, "body": data["body"]}
        if data["kind"] == "customer":
            contact = data.get("contact")
            if contact and ticket.customer_id and contact.customer_id != ticket.customer_id:
                raise ValidationError(
                    {"contact": [_("Choose a contact of the ticket's customer.")]}
                )
            message = services.ticket_add_customer_message(
                **common,
                contact=contact,
                author_name=data.get("author_name", ""),
                intent=key,
                attachments=files,
            )
        else:
            service = services.ticket_add_note if data["kind"] == "note" else services.ticket_reply
            message = service(**common, intent=key, attachments=files)
        return Response(
            MessageWithAttachmentsSerializer(message, context={"reference": reference}).data,
            status=status.HTTP_201_CREATED,
        )


class AttachmentDownload(generics.GenericAPIView):
    @extend_schema(
        description="The file of an attachment, to those who may read its ticket; always a "
        "download (`application/octet-stream`), never rendered.",
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request, reference: str, pk: int) -> FileResponse:
        ticket = parent_ticket_or_404(request, reference)
        try:
            attachment = Attachment.objects.get(ticket=ticket, pk=pk)
            handle = attachment.file.open("rb")
        except (Attachment.DoesNotExist, FileNotFoundError):
            raise Http404 from None
        return uploads.download_response(handle, attachment.original_name)


class TicketEvents(generics.ListAPIView):
    serializer_class = EventSerializer
    pagination_class = EventCursor
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[TicketEvent]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return TicketEvent.objects.none()
        ticket = parent_ticket_or_404(self.request, self.kwargs["reference"])
        return TicketEvent.objects.filter(ticket=ticket).select_related("actor")

    @extend_schema(
        description="The ticket's audit trail, oldest first, cursor-paginated.",
        examples=[
            OpenApiExample(
                "An event",
                response_only=True,
                value={
                    "id": 1,
                    "kind": "created",
                    "actor": "ann",
                    "payload": {"team": "Service Desk", "priority": 1},
                    "created_at": "2026-12-07T09:00:00Z",
                },
            )
        ],
    )
    def get(self, request: Request, reference: str) -> Response:
        return self.list(request)
