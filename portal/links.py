"""Signed rating links: rate a resolved ticket without signing in.

A token is bound to the ticket and to one resolution of it (its reopen count and the instant
it was resolved), salted for this purpose only, and expires PORTAL_RATING_LINK_DAYS after it
was made. A reopened ticket invalidates its old links; resolving it again makes new ones.
`rating_url` is what the resolution email puts in front of the customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext as _

from tickets.models import Ticket

SALT = "portal.rating"


class InvalidRatingLink(Exception):
    """The link was tampered with, has expired, or its resolution no longer holds."""


@dataclass(frozen=True)
class RatingTarget:
    ticket: Ticket
    resolution: int


def rating_token(ticket: Ticket) -> str:
    """A token for rating the current resolution of `ticket` (which must be resolved)."""
    if ticket.resolved_at is None:
        raise ValueError("Only a resolved ticket can be rated.")
    return signing.dumps(
        {"t": ticket.pk, "n": ticket.reopen_count, "r": int(ticket.resolved_at.timestamp())},
        salt=SALT,
    )


def rating_url(ticket: Ticket) -> str:
    """The absolute, signed link that rates the current resolution of `ticket`."""
    return settings.SITE_URL + reverse("portal:rate", kwargs={"token": rating_token(ticket)})


def rating_target(token: str) -> RatingTarget:
    """The ticket and resolution a token rates, or InvalidRatingLink."""
    try:
        data = signing.loads(
            token, salt=SALT, max_age=settings.PORTAL_RATING_LINK_DAYS * 24 * 60 * 60
        )
    except signing.SignatureExpired:
        raise InvalidRatingLink(_("This rating link has expired.")) from None
    except signing.BadSignature:
        raise InvalidRatingLink(_("This rating link is not valid.")) from None
    try:
        ticket = Ticket.objects.select_related("requester").get(pk=int(data["t"]))
        resolution, resolved = int(data["n"]), int(data["r"])
    except (Ticket.DoesNotExist, KeyError, TypeError, ValueError):
        raise InvalidRatingLink(_("This rating link is not valid.")) from None
    if (
        ticket.resolved_at is None
        or ticket.reopen_count != resolution
        or int(ticket.resolved_at.timestamp()) != resolved
    ):
        raise InvalidRatingLink(
            _(
                "This ticket was reopened since this link was sent; it can be rated again "
                "once it is solved."
            )
        )
    return RatingTarget(ticket=ticket, resolution=resolution)


def resolved_email_context(ticket: Ticket, contact: object) -> dict[str, str]:
    """The resolution email's rating link (registered with the mail app in PortalConfig)."""
    return {"rating_url": rating_url(ticket)}
