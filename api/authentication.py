"""Token authentication for the API: knox's, reading only the token a request names.

knox finds the token by its key prefix (`token_key`, indexed) and then, before comparing
digests, reads every other token of its owner to delete the expired ones: a second query on
every request, which grows with the number of tokens the owner has (a service account that
makes a token per deployment has hundreds). Here a request reads the tokens with its key
prefix, with their users, and nothing else:

- expiry stays exact: a token presented after its expiry is refused, and deleted, on that
  request (as knox does);
- revocation stays exact: a revoked token is deleted (`integrations.services.token_revoke`)
  and so no longer found;
- expired tokens nobody presents any more are deleted by the hourly purge
  (`purge_expired_tokens`, `api.tasks.purge_expired_tokens`) instead of at their owner's next
  request.
"""

from __future__ import annotations

import binascii
import datetime as dt
from hmac import compare_digest
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from api.models import ApiToken

# knox's refusal, word for word (its message id: the answer reads as knox's did).
KNOX_INVALID_TOKEN = "Invalid token."  # noqa: S105 - a message, not a secret


class TokenAuthentication(auth.TokenAuthentication):
    """`Authorization: Token <secret>`: knox's scheme, messages and signals, in one query."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, ApiToken]:
        try:
            secret = token.decode("utf-8")
        except UnicodeDecodeError:  # a header of Latin-1 bytes that are no UTF-8: no token
            raise exceptions.AuthenticationFailed(gettext(KNOX_INVALID_TOKEN)) from None
        candidates = ApiToken.objects.filter(
            token_key=secret[: CONSTANTS.TOKEN_KEY_LENGTH]
        ).select_related("user")
        now = timezone.now()
        for auth_token in candidates:
            if auth_token.expiry is not None and auth_token.expiry < now:
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                continue
            try:
                digest = hash_token(secret)
            except (TypeError, binascii.Error):
                break
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(gettext(KNOX_INVALID_TOKEN))


def purge_expired_tokens(now: dt.datetime | None = None) -> int:
    """Delete the API tokens whose expiry has passed; returns how many."""
    deleted, _rows = ApiToken.objects.filter(expiry__lt=now or timezone.now()).delete()
    return deleted


class TokenScheme(KnoxTokenScheme):
    """The schema's name and description of the scheme: knox's, as before."""

    target_class = TokenAuthentication
