"""The organisation over the API: support levels, teams, customers, contacts, business
services (every agent reads them, administrators change them through the admin's forms:
`api.adminforms`) and users (read only; email addresses for administrators only)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from api.adminforms import resource_urls, serializer_for
from api.pagination import cursor
from tickets.models import Contact, ContactAddress, Customer, Service, SupportLevel, Team
from tickets.services import is_agent

User = get_user_model()

LevelSerializer = serializer_for(SupportLevel, ["id", "rank", "name", "name_de", "description"])
TeamSerializer = serializer_for(
    Team, ["id", "name", "kind", "level", "lead", "members", "escalates_to", "email", "is_active"]
)
CustomerSerializer = serializer_for(
    Customer,
    ["id", "name", "kind", "email", "phone", "tier", "is_vip", "contract", "notes", "created_at"],
)
ContactAddressSerializer = serializer_for(ContactAddress, ["id", "email"])
ContactSerializer = serializer_for(
    Contact,
    [
        "id",
        "customer",
        "name",
        "email",
        "addresses",
        "language",
        "time_zone",
        "portal_access",
        "sees_organisation_tickets",
        "is_active",
        "created_at",
    ],
    addresses=ContactAddressSerializer(many=True, read_only=True),
)
ServiceSerializer = serializer_for(
    Service,
    [
        "id",
        "name",
        "name_de",
        "description",
        "owning_team",
        "criticality",
        "status",
        "status_changed_at",
        "is_active",
    ],
)


class UserSerializer(serializers.ModelSerializer):
    """A user as agents see them: who they are and which teams they work in."""

    name = serializers.CharField(source="get_full_name")
    teams = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name", "is_active", "teams"]

    def get_teams(self, user: object) -> list[int]:
        return sorted({t.pk for t in user.teams.all()} | {t.pk for t in user.led_teams.all()})


class UserWithEmailSerializer(UserSerializer):
    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "email", "is_staff"]


class UserList(generics.ListAPIView):
    filter_backends: list = []
    pagination_class = cursor("id", page_size=100)

    def get_queryset(self) -> QuerySet:
        return User.objects.filter(is_active=True).prefetch_related("teams", "led_teams")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return UserWithEmailSerializer if self.request.user.is_staff else UserSerializer

    @extend_schema(
        description="The active users with their teams, cursor-paginated by id; readable by "
        "every agent. Email addresses are shown to administrators only.",
        responses=UserWithEmailSerializer(many=True),
        examples=[
            OpenApiExample(
                "A user",
                response_only=True,
                value={
                    "id": 3,
                    "username": "ann",
                    "name": "Ann Smith",
                    "is_active": True,
                    "teams": [1],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        if not is_agent(request.user):
            raise PermissionDenied()
        return self.list(request)


urlpatterns = [
    *resource_urls(
        "levels",
        model=SupportLevel,
        serializer=LevelSerializer,
        readers="agents",
        example={
            "id": 2,
            "rank": 2,
            "name": "2nd level",
            "name_de": "2nd Level",
            "description": "Specialists",
        },
    ),
    *resource_urls(
        "teams",
        model=Team,
        serializer=TeamSerializer,
        readers="agents",
        queryset=lambda: Team.objects.prefetch_related("members"),
        example={
            "id": 1,
            "name": "Service Desk",
            "kind": "tier",
            "level": 1,
            "lead": 2,
            "members": [3, 4],
            "escalates_to": 2,
            "email": "",
            "is_active": True,
        },
    ),
    *resource_urls(
        "customers",
        model=Customer,
        serializer=CustomerSerializer,
        readers="agents",
        example={
            "id": 1,
            "name": "ACME GmbH",
            "kind": "organisation",
            "email": "",
            "phone": "",
            "tier": "premium",
            "is_vip": False,
            "contract": "C-17",
            "notes": "",
        },
    ),
    *resource_urls(
        "contacts",
        model=Contact,
        serializer=ContactSerializer,
        readers="agents",
        queryset=lambda: Contact.objects.prefetch_related("addresses"),
        example={
            "id": 1,
            "customer": 1,
            "name": "Jo Buyer",
            "email": "jo@acme.example",
            "addresses": [
                {"id": 1, "email": "jo@acme.example"},
                {"id": 2, "email": "jo.buyer@acme.example"},
            ],
            "language": "de",
            "time_zone": "Europe/Berlin",
            "portal_access": True,
            "sees_organisation_tickets": False,
            "is_active": True,
        },
    ),
    *resource_urls(
        "services",
        model=Service,
        serializer=ServiceSerializer,
        readers="agents",
        example={
            "id": 1,
            "name": "Checkout",
            "name_de": "Kasse",
            "description": "",
            "owning_team": 2,
            "criticality": 1,
            "status": "operational",
            "is_active": True,
        },
    ),
]
urlpatterns.append(path("users/", UserList.as_view(), name="users"))
