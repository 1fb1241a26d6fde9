"""STAFF_REQUIRE_2FA: staff work only in sessions confirmed with a second factor."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.services import two_factor_enabled

# Paths a staff user may still reach before the second factor is set up.
_OPEN_VIEWS = {
    "two_factor",
    "two_factor_setup",
    "logout",
    "login",
    "admin_login",
    "login_code",
    "set_language",
    "healthz",
}


class StaffTwoFactorMiddleware:
    """With STAFF_REQUIRE_2FA on, a staff user's session must be verified with a code.

    Staff without an authenticator are sent to set one up before they can work; staff whose
    session was opened without the code (e.g. before they turned TOTP on) sign in again.
    Needs django-otp's OTPMiddleware before it. Costs a query only for unverified staff.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            settings.STAFF_REQUIRE_2FA
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
            and _view_name(request.path_info) not in _OPEN_VIEWS
        ):
            if two_factor_enabled(user):
                logout(request)
                return redirect(f"{reverse('login')}?{urlencode({'next': request.path})}")
            messages.warning(
                request, _("Set up two-factor sign-in first: staff accounts require it.")
            )
            return redirect("two_factor_setup")
        return self.get_response(request)


def _view_name(path: str) -> str | None:
    try:
        return resolve(path).view_name
    except Resolver404:
        return None
