"""The portal's session: which contact is signed in, kept apart from the staff login.

The contact's id sits under its own session key next to a keyed digest of their address, so
changing a contact's address (or turning their access off) ends their portal sessions. A
contact never becomes `request.user`: agent pages and the admin stay closed to them, and a
staff login does not make anybody a contact.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import urlencode

from tickets.models import Contact

CONTACT_KEY = "portal_contact"
CHECK_KEY = "portal_contact_check"


def contact_check(contact: Contact) -> str:
    return salted_hmac("portal.session", f"{contact.pk}:{contact.email}").hexdigest()


def sign_in(request: HttpRequest, contact: Contact) -> None:
    """Remember `contact` in this session (a new session key: no fixation)."""
    request.session.cycle_key()
    request.session[CONTACT_KEY] = contact.pk
    request.session[CHECK_KEY] = contact_check(contact)


def sign_out(request: HttpRequest) -> None:
    request.session.pop(CONTACT_KEY, None)
    request.session.pop(CHECK_KEY, None)
    request.session.cycle_key()


def current_contact(request: HttpRequest) -> Contact | None:
    """The signed-in contact, if they may still use the portal."""
    pk = request.session.get(CONTACT_KEY)
    if pk is None:
        return None
    contact = (
        Contact.objects.select_related("customer")
        .filter(pk=pk, is_active=True, portal_access=True)
        .first()
    )
    if contact is None or not constant_time_compare(
        request.session.get(CHECK_KEY, ""), contact_check(contact)
    ):
        sign_out(request)
        return None
    return contact


def contact_zone(contact: Contact) -> ZoneInfo:
    try:
        return ZoneInfo(contact.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def contact_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run `view` for a signed-in contact (as `request.contact`), in their language and time
    zone; everybody else goes to the portal's sign-in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contact = current_contact(request)
        if contact is None:
            target = reverse("portal:sign_in")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        request.contact = contact  # type: ignore[attr-defined]
        with translation.override(contact.language), timezone.override(contact_zone(contact)):
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    return wrapper
