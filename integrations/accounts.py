"""Service accounts never hold a browser session.

Their password is unusable, so the sign-in form cannot succeed for them; should one get a
password anyway (an admin set one by hand), the session that `login()` just opened is dropped
again and the sign-in refused. Their way in is an API token.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _


def refuse_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    from integrations.services import is_service_account

    if is_service_account(user):
        if request is not None and hasattr(request, "session"):
            request.session.flush()
        raise PermissionDenied(_("Service accounts sign in with API tokens only."))


def connect() -> None:
    user_logged_in.connect(refuse_session, dispatch_uid="integrations.refuse_session")
