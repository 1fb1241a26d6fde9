"""The caller's own notifications and notification preferences over the API: the same
services and the same preference form as the browser's bell and settings page."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import Idempotent
from api.pagination import cursor
from notifications import services
from notifications.forms import PreferenceForm
from notifications.models import Notification, Preference


class NotificationSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", allow_null=True, default=None)
    kind_label = serializers.CharField(source="get_kind_display")
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_label", "ticket", "payload", "created_at", "read_at", "read"]

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class NotificationFilter(filters.FilterSet):
    unread = filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")

    class Meta:
        model = Notification
        fields: list[str] = []


NotificationCursor = cursor("-created_at", "-id", page_size=50)


NOTIFICATION_EXAMPLE = OpenApiExample(
    "A notification",
    response_only=True,
    value={
        "id": 9,
        "kind": "escalation_raised",
        "kind_label": "Escalation raised",
        "ticket": "HD-2026-000042",
        "payload": {"to_team": "Application Support"},
        "created_at": "2026-12-07T09:30:00Z",
        "read_at": None,
        "read": False,
    },
)


class NotificationList(generics.ListAPIView):
    serializer_class = NotificationSerializer
    pagination_class = NotificationCursor
    filterset_class = NotificationFilter

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Notification.objects.none()
        return Notification.objects.filter(user=self.request.user).select_related("ticket")

    @extend_schema(
        description="Your notifications, the latest first; `unread=true` for the unread ones.",
        examples=[NOTIFICATION_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        return self.list(request)


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread.")


MARKED_EXAMPLE = OpenApiExample("Marked", response_only=True, value={"marked": 1})


class NotificationRead(Idempotent):
    @extend_schema(
        description="Mark one of your notifications as read (again: nothing changes).",
        request=None,
        responses=MarkedSerializer,
        examples=[MARKED_EXAMPLE],
    )
    def post(self, request: Request, pk: int) -> Response:
        try:
            count = services.notifications_mark_read(user=request.user, pk=pk)
        except Notification.DoesNotExist:
            raise Http404 from None
        return Response({"marked": count})


class NotificationReadAll(Idempotent):
    @extend_schema(
        description="Mark all your notifications as read.",
        operation_id="me_notifications_read_all",
        request=None,
        responses=MarkedSerializer,
        examples=[MARKED_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        return Response({"marked": services.notifications_mark_read(user=request.user)})


class ChannelSerializer(serializers.Serializer):
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class PreferenceSerializer(serializers.Serializer):
    language = serializers.CharField()
    timezone = serializers.CharField()
    calendar = serializers.IntegerField(allow_null=True)
    channels = serializers.DictField(child=ChannelSerializer())


PREFERENCE_EXAMPLE = OpenApiExample(
    "Preferences",
    value={
        "language": "de",
        "timezone": "Europe/Berlin",
        "calendar": None,
        "channels": {"escalation_raised": {"in_app": True, "email": True}},
    },
)


def preference_body(user: Any) -> dict[str, Any]:
    preference = Preference.for_user(user)
    return {
        "language": preference.language,
        "timezone": preference.timezone,
        "calendar": preference.calendar_id,
        "channels": {
            kind: {"in_app": in_app, "email": by_email}
            for kind, (in_app, by_email) in services.channels_of(user).items()
        },
    }


class NotificationPreferences(Idempotent):
    @extend_schema(
        description="How you are told: the language and time zone of your emails, the "
        "business calendar that holds non-urgent email, and per kind of notification "
        "whether in the app and by email.",
        responses=PreferenceSerializer,
        examples=[PREFERENCE_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        return Response(preference_body(request.user))

    @extend_schema(
        description="Change your preferences: the keys sent, the others kept; `channels` "
        "needs only the kinds that change. Validated by the settings page's form.",
        request=OpenApiTypes.OBJECT,
        responses=PreferenceSerializer,
        examples=[PREFERENCE_EXAMPLE],
    )
    def patch(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        unknown = sorted(set(body) - {"language", "timezone", "calendar", "channels"})
        if unknown:
            raise ValidationError({k: [_("This field is not known.")] for k in unknown})
        current = preference_body(request.user)
        channels = body.get("channels", {})
        if not isinstance(channels, dict) or not all(
            isinstance(v, dict) and set(v) <= {"in_app", "email"} for v in channels.values()
        ):
            raise ValidationError(
                {"channels": [_("Send {kind: {in_app: true|false, email: true|false}}.")]}
            )
        unknown_kinds = sorted(set(channels) - set(Notification.Kind.values))
        if unknown_kinds:
            raise ValidationError(
                {"channels": [_("Unknown kinds: %(kinds)s.") % {"kinds": ", ".join(unknown_kinds)}]}
            )
        data: dict[str, Any] = {
            "language": body.get("language", current["language"]),
            "timezone": body.get("timezone", current["timezone"]),
            "calendar": body.get("calendar", current["calendar"]),
        }
        for kind, now in current["channels"].items():
            chosen = {**now, **channels.get(kind, {})}
            data[f"in_app__{kind}"] = chosen["in_app"]
            data[f"email__{kind}"] = chosen["email"]
        preference = Preference.for_user(request.user)
        form = PreferenceForm(
            data=data, preference=preference, channels=services.channels_of(request.user)
        )
        if not form.is_valid():
            raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
        services.preferences_update(user=request.user, **form.preferences())
        return Response(preference_body(request.user))


urlpatterns = [
    path("me/notifications/", NotificationList.as_view(), name="notifications"),
    path("me/notifications/read/", NotificationReadAll.as_view(), name="notifications-read"),
    path("me/notifications/<int:pk>/read/", NotificationRead.as_view(), name="notification-read"),
    path(
        "me/notification-preferences/",
        NotificationPreferences.as_view(),
        name="notification-preferences",
    ),
]
