"""Sign-in: password first, then (when TOTP is on) the code; the two-factor settings page.

The same views serve /login/ and /admin/login/, so the lock-out (django-axes) and the second
factor protect the admin exactly as the agent UI.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import wraps

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from accounts import services
from accounts.forms import CodeForm, SignInForm

PENDING_SESSION_KEY = "accounts_pending_login"
# Seconds between a correct password and the code before the password must be typed again.
PENDING_MAX_AGE = 300


class LoginView(auth_views.LoginView):
    """Step one: username and password (django-axes counts failures and locks out).

    A user with two-factor sign-in is not logged in yet: the session remembers who passed the
    password and step two asks for the code.
    """

    authentication_form = SignInForm

    def form_valid(self, form):
        user = form.get_user()
        if not services.two_factor_enabled(user):
            return super().form_valid(form)
        self.request.session[PENDING_SESSION_KEY] = {
            "user_id": user.pk,
            "backend": user.backend,
            "next": self.get_success_url(),
            "at": time.time(),
        }
        return redirect("login_code")


def _pending_user(request: HttpRequest):
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending or time.time() - pending["at"] > PENDING_MAX_AGE:
        return None, None
    user = get_user_model().objects.filter(pk=pending["user_id"], is_active=True).first()
    return user, pending


def login_code(request: HttpRequest) -> HttpResponse:
    """Step two: the code from the authenticator app or a recovery code.

    Wrong codes count as failed logins for django-axes (same lock-out as wrong passwords),
    and each device throttles them as well.
    """
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.info(request, _("Please log in again."))
        return redirect("login")
    credentials = {user.USERNAME_FIELD: user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        return get_lockout_response(request, credentials=credentials)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_verify(user=user, token=form.cleaned_data["code"])
        if device is not None:
            del request.session[PENDING_SESSION_KEY]
            user.otp_device = device  # django-otp marks the session verified on login
            auth_login(request, user, backend=pending["backend"])
            return redirect(pending["next"])
        user_login_failed.send(
            sender=__name__, credentials=credentials, request=request
        )  # django-axes counts it; its middleware answers with the lock-out page if due
        form.add_error("code", _("This code is not valid. Please try again."))
    return render(request, "registration/login_code.html", {"form": form})


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a locked-out login: one page for every user name, known or not."""
    cool_off: timedelta | None = get_cool_off(request)
    minutes = max(1, int(cool_off.total_seconds() // 60)) if cool_off else None
    return render(
        request,
        "registration/locked_out.html",
        {"cooloff_minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


def _proven_session(view):
    """Changing the second factor needs a session that passed it, once it is on.

    A session opened before TOTP was turned on (or without the code) could otherwise
    replace the authenticator or read fresh recovery codes; it signs in again instead.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_verified() and services.two_factor_enabled(request.user):
            logout(request)
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """The two-factor settings: whether it is on, recovery codes left, turn it on or off."""
    user = request.user
    return render(
        request,
        "accounts/two_factor.html",
        {
            "enabled": services.two_factor_enabled(user),
            "codes_left": services.recovery_codes_left(user=user),
            "required": settings.STAFF_REQUIRE_2FA and user.is_staff,
            "form": CodeForm(),
        },
    )


@login_required
@_proven_session
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Turn TOTP on: scan the QR code (or type the secret), then confirm with a code."""
    user = request.user
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.totp_setup_confirm(user=user, token=form.cleaned_data["code"])
        if codes is not None:
            device = services.totp_device(user=user)
            otp_login(request, device)  # the session that set it up has just proven the factor
            messages.success(request, _("Two-factor sign-in is on."))
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
        form.add_error("code", _("This code is not valid. Please try again."))
    device = services.totp_setup_start(user=user)
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            # segno writes the SVG itself (no external service, no script); safe markup.
            "qr_svg": mark_safe(qr.svg_inline(scale=5, title=_("QR code"))),  # noqa: S308
            "secret": services.totp_secret(device),
        },
    )


@login_required
@require_POST
@_proven_session
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes replace the old ones; shown once."""
    if not services.two_factor_enabled(request.user):
        return redirect("two_factor")
    codes = services.recovery_codes_renew(user=request.user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@login_required
@require_POST
@_proven_session
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off, confirmed with a current code; refused when required."""
    user = request.user
    if settings.STAFF_REQUIRE_2FA and user.is_staff:
        messages.error(request, _("Staff accounts must keep two-factor sign-in."))
        return redirect("two_factor")
    form = CodeForm(request.POST)
    if form.is_valid() and services.two_factor_verify(user=user, token=form.cleaned_data["code"]):
        services.two_factor_disable(user=user)
        messages.success(request, _("Two-factor sign-in is off."))
        return redirect("two_factor")
    messages.error(request, _("This code is not valid. Two-factor sign-in stays on."))
    return redirect("two_factor")
