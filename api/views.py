"""The REST API (/api/v1/): thin views over the ticket services.

Every read goes through `Ticket.objects.visible_to` (a ticket you may not read is a 404),
every write through a service (visibility, `can_move`, the audit trail and notifications hold
by construction). Refusals become problem details (`api.problems`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.authentication import BasicScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts.services import two_factor_enabled
from api.models import ApiToken
from api.serializers import (
    EventSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    NewTokenSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    TransitionRequestSerializer,
)
from escalation.models import Escalation
from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.services import NewTicket


def validated(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """The request body checked by `serializer_class`; a 400 problem with field errors
    otherwise."""
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


# --- Tokens -----------------------------------------------------------------------------------


class PasswordBasicAuthentication(BasicAuthentication):
    """HTTP Basic for making tokens, but never past a second factor: a user with an
    authenticator (or staff, while STAFF_REQUIRE_2FA holds) makes tokens in a verified
    browser session instead."""

    def authenticate_credentials(self, userid, password, request=None):  # type: ignore[no-untyped-def]
        user, auth = super().authenticate_credentials(userid, password, request)
        if two_factor_enabled(user) or (settings.STAFF_REQUIRE_2FA and user.is_staff):
            raise AuthenticationFailed(
                _("Your account uses two-factor sign-in: create tokens while signed in.")
            )
        return user, auth


class PasswordBasicScheme(BasicScheme):
    """The schema's name for it: plain HTTP Basic."""

    target_class = PasswordBasicAuthentication


class TokenListCreate(APIView):
    """A user's own API tokens. Made with the password (HTTP Basic) or a browser session, not
    with another token, so that a leaked token cannot mint more."""

    authentication_classes = [PasswordBasicAuthentication, SessionAuthentication]
    throttle_scope = "token_create"  # stricter: making (not listing) tokens

    @extend_schema(
        description="Your API tokens (name, key prefix, expiry; never the secret).",
        responses=TokenSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.filter(user=request.user)
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(
        description="Create a named token. The secret `token` is in this answer only; send it "
        "as `Authorization: Token <token>`.",
        request=TokenCreateSerializer,
        responses={201: NewTokenSerializer},
    )
    def post(self, request: Request) -> Response:
        data = validated(TokenCreateSerializer, request)
        instance, secret = ApiToken.objects.create(user=request.user, name=data["name"])
        instance.token = secret
        return Response(NewTokenSerializer(instance).data, status=status.HTTP_201_CREATED)


class TokenRevoke(APIView):
    authentication_classes = [PasswordBasicAuthentication, SessionAuthentication]
    throttle_scope = "token_create"

    @extend_schema(
        description="Revoke one of your tokens by its id (key prefix).", responses={204: None}
    )
    def delete(self, request: Request, key: str) -> Response:
        deleted, _rows = ApiToken.objects.filter(user=request.user, token_key=key).delete()
        if not deleted:
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Tickets ----------------------------------------------------------------------------------


class TicketFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Ticket.Status.choices)
    priority = filters.NumberFilter()
    team = filters.NumberFilter(field_name="team_id")
    level = filters.NumberFilter(field_name="level__rank")
    assignee = filters.NumberFilter(field_name="assignee_id")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Ticket
        fields = ["status", "priority", "team", "level", "assignee", "updated_since"]


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
        return [raw] if raw else list(view.ordering)


class TicketCursor(CursorPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"


class EventCursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("created_at", "id")


def visible_tickets(request: Request) -> QuerySet[Ticket]:
    """The tickets the caller may read, with what the serializers show in a flat number of
    queries (whatever the page size)."""
    return (
        Ticket.objects.visible_to(request.user)
        .select_related("team", "level", "assignee", "customer")
        .prefetch_related(
            Prefetch(
                "escalations",
                queryset=Escalation.objects.filter(status=Escalation.Status.RAISED)
                .select_related("to_team")
                .order_by("-raised_at"),
                to_attr="open_escalations",
            )
        )
    )


def ticket_or_404(request: Request, reference: str) -> Ticket:
    return get_object_or_404(visible_tickets(request), reference=reference)


def expected_version(request: Request, form_version: int | None) -> int | None:
    """The version the client read: the body's `version`, else an `If-Match: "<n>"` header."""
    if form_version is not None:
        return form_version
    raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError({"If-Match": [_("Send the ticket's version, e.g. “3”.")]})
    return int(raw)


class TicketListCreate(generics.ListCreateAPIView):
    serializer_class = TicketSerializer
    pagination_class = TicketCursor
    filter_backends = [filters.DjangoFilterBackend, StrictOrdering]
    filterset_class = TicketFilter
    ordering = ("-created_at",)
    ordering_fields = ordering_fields_allowed = (
        "-created_at",
        "created_at",
        "-updated_at",
        "updated_at",
    )

    def get_queryset(self) -> QuerySet[Ticket]:
        return visible_tickets(self.request)

    @extend_schema(description="The tickets you may read, newest first, cursor-paginated.")
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        description="Open a ticket (the same checks as the browser form). Agents only.",
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer},
    )
    def post(self, request: Request) -> Response:
        if not services.is_agent(request.user):
            raise PermissionDenied(_("Only agents can do this."))
        data = NewTicket(**validated(TicketCreateSerializer, request))
        ticket = services.ticket_create(actor=request.user, data=data)
        return detail_response(request, ticket.reference, status.HTTP_201_CREATED)


def detail_response(request: Request, reference: str, code: int = 200) -> Response:
    ticket = ticket_or_404(request, reference)
    may_move = services.can_move(ticket, request.user)
    ticket.api_transitions = [
        {"name": name, "label": label}
        for name, label in (
            services.available_transitions(ticket, request.user) if may_move else []
        )
    ]
    return Response(TicketDetailSerializer(ticket).data, status=code)


class TicketDetail(APIView):
    @extend_schema(
        description="One ticket with its SLA and escalation state and the transitions you may "
        "run now; 404 if you may not read it.",
        responses=TicketDetailSerializer,
    )
    def get(self, request: Request, reference: str) -> Response:
        return detail_response(request, reference)


class TicketTransition(APIView):
    @extend_schema(
        description="Run a status transition (open, pend, resume, resolve, reopen, close). "
        "Send the `version` you read (or `If-Match`) to get a 409 when the ticket changed.",
        request=TransitionRequestSerializer,
        responses=TicketDetailSerializer,
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


class TicketMessages(APIView):
    @extend_schema(
        description="A public reply, or an internal note with `internal: true`. With an "
        "`Idempotency-Key` header a retry is a 409 instead of a second message.",
        request=MessageCreateSerializer,
        responses={201: MessageSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_or_404(request, reference)
        data = validated(MessageCreateSerializer, request)
        key = request.headers.get("Idempotency-Key", "")
        if len(key) > 64 or "\x00" in key:
            raise ValidationError(
                {"Idempotency-Key": [_("At most 64 characters, no null characters.")]}
            )
        service = services.ticket_add_note if data["internal"] else services.ticket_reply
        message = service(ticket=ticket, actor=request.user, body=data["body"], intent=key)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class TicketEvents(generics.ListAPIView):
    serializer_class = EventSerializer
    pagination_class = EventCursor
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[TicketEvent]:
        ticket = ticket_or_404(self.request, self.kwargs["reference"])
        return TicketEvent.objects.filter(ticket=ticket).select_related("actor")

    @extend_schema(description="The ticket's audit trail, oldest first, cursor-paginated.")
    def get(self, request: Request, reference: str) -> Response:
        return self.list(request)
