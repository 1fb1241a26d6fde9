"""The REST API's token views (/api/v1/auth/tokens/). The resources are in their own
modules: `api.tickets`, `api.escalations`, `api.organisation`, `api.configuration`,
`api.notifications`."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.authentication import BasicScheme
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import two_factor_enabled
from api.forms import form_serializer, form_validated, initial_values
from api.idempotency import Idempotent
from api.models import ApiToken
from api.serializers import NewTokenSerializer, TokenSerializer
from integrations import services as integration_services
from integrations.forms import TokenForm

# --- Tokens -----------------------------------------------------------------------------------

TOKEN_EXAMPLE = OpenApiExample(
    "A token",
    response_only=True,
    value={
        "id": "3f1c2a9b",
        "name": "monitoring",
        "created": "2026-12-07T09:00:00Z",
        "expiry": "2027-03-07T09:00:00Z",
    },
)


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


# The body of a new token: the settings page's form (`/account/tokens/`), so both ask the same.
TokenCreateSerializer = form_serializer(
    "TokenCreate",
    TokenForm.base_fields,
    initial=initial_values(TokenForm()),
    doc="A new token: its name and how many days it is valid (the settings page's form; "
    "without `days`, API_TOKEN_TTL_DAYS).",
)


class TokenListCreate(Idempotent):
    """A user's own API tokens. Made with the password (HTTP Basic) or a browser session, not
    with another token, so that a leaked token cannot mint more."""

    authentication_classes = [PasswordBasicAuthentication, SessionAuthentication]
    throttle_scope = "token_create"  # stricter: making (not listing) tokens
    # A replayed creation answers without the secret: it is shown once and stored hashed only.
    secret_fields = ("token",)

    @extend_schema(
        description="Your API tokens (name, key prefix, expiry; never the secret).",
        responses=TokenSerializer(many=True),
        examples=[TOKEN_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.filter(user=request.user)
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(
        description="Create a named token, valid for `days` (1 to 3650; default "
        "API_TOKEN_TTL_DAYS) — the same choices and checks as the settings page. The secret "
        "`token` is in this answer only; send it as `Authorization: Token <token>`.",
        request=TokenCreateSerializer,
        responses={201: NewTokenSerializer},
        examples=[
            OpenApiExample(
                "A name and a lifetime",
                request_only=True,
                value={"name": "monitoring", "days": 30},
            ),
            OpenApiExample(
                "The new token",
                response_only=True,
                value={**TOKEN_EXAMPLE.value, "token": "3f1c…(shown once)"},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = form_validated(TokenForm, request.data)
        instance, secret = integration_services.token_create(
            user=request.user, name=data["name"], days=data["days"]
        )
        instance.token = secret
        return Response(NewTokenSerializer(instance).data, status=status.HTTP_201_CREATED)


class TokenRevoke(APIView):
    authentication_classes = [PasswordBasicAuthentication, SessionAuthentication]
    throttle_scope = "token_create"

    @extend_schema(
        description="Revoke one of your tokens by its id (key prefix).", responses={204: None}
    )
    def delete(self, request: Request, key: str) -> Response:
        if not integration_services.token_revoke(actor=request.user, key=key, own_only=True):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)
