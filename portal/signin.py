"""Signing contacts in by a one-time code sent to their address.

Why not django-allauth's login by code: contacts are not users (they must never hold a staff
session, nor appear in the user admin), and allauth signs in `User` rows. The flow is small:

- `code_request`: throttled per address and per IP; writes a `SignInCode` for every address
  (a random one that is never sent when no active contact with portal access has it), and
  for a contact an urgent outbox delivery (`CODE_KIND`) that a delivery worker sends ahead
  of the other emails once the transaction commits: the request never waits for SMTP, and
  every address is answered equally fast. The caller shows the same page whatever happened.
- `link_verify`: the same check for the link in the email (the code row and its code,
  signed), confirmed by a button so that mail scanners that open links do not use it up.
- `code_verify`: the latest unused, unexpired code for the address; at most
  PORTAL_CODE_MAX_ATTEMPTS tries per code, and failures are throttled per IP as well.
  Returns the contact, or raises `SignInRefused` with a message that says nothing about
  whether the address exists.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from notifications.email import Undeliverable, clean_address
from notifications.models import Delivery
from notifications.outbox import send_after_commit
from portal.models import SignInCode
from tickets.models import Contact

CODE_DIGITS = 6
LINK_SALT = "portal.sign-in.link"
# The outbox kind of the code email (registered as urgent in `PortalConfig.ready`).
CODE_KIND = "portal.sign_in_code"


class SignInRefused(Exception):
    """The code is wrong, expired or used up, or a throttle applies; the message says which
    in words that are the same for known and unknown addresses."""


def normalise(address: str) -> str:
    return (address or "").strip().lower()


def address_digest(address: str) -> str:
    return salted_hmac("portal.sign-in.address", normalise(address)).hexdigest()


def code_digest(digest: str, code: str) -> str:
    return salted_hmac("portal.sign-in.code", f"{digest}:{code}").hexdigest()


def _lock_address(digest: str) -> None:
    """Serialise the code requests of one address until the transaction ends: two at once
    would each retire the codes before them, and both new codes would stay usable."""
    if connection.vendor != "postgresql":
        return  # SQLite lets one writer in at a time
    with connection.cursor() as cursor:
        # A signed 64-bit key from the digest: a collision only makes two addresses wait.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(digest[:16], 16) - 2**63])


def _window() -> int:
    return settings.PORTAL_THROTTLE_MINUTES * 60


def _hit(key: str, limit: int) -> bool:
    """Count one more event under `key` in the current window; False once over `limit`."""
    cache.add(key, 0, _window())
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, _window())
        count = 1
    return count <= limit


def _over(key: str, limit: int) -> bool:
    return (cache.get(key) or 0) >= limit


def _throttled() -> SignInRefused:
    return SignInRefused(
        _("Too many attempts. Please wait %(minutes)d minutes and try again.")
        % {"minutes": settings.PORTAL_THROTTLE_MINUTES}
    )


def portal_contact(address: str) -> Contact | None:
    """The active contact with portal access whose address this is, or None."""
    contact = Contact.objects.for_address(normalise(address))
    if contact is None or not contact.is_active or not contact.portal_access:
        return None
    return contact


def code_request(*, address: str, ip: str | None, now: datetime | None = None) -> None:
    """Send a sign-in code to `address` if it belongs to a contact who may use the portal.

    Raises SignInRefused when the address or the IP asked too often in the throttle window
    (counted for every address, known or not).
    """
    now = now or timezone.now()
    digest = address_digest(address)
    if not _hit(f"portal:code-request:addr:{digest}", settings.PORTAL_CODE_REQUESTS_PER_ADDRESS):
        raise _throttled()
    if not _hit(f"portal:code-request:ip:{ip}", settings.PORTAL_CODE_REQUESTS_PER_IP):
        raise _throttled()
    contact = portal_contact(address)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with transaction.atomic():
        _lock_address(digest)
        SignInCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
        # A new code replaces every earlier one of this address.
        SignInCode.objects.filter(address_digest=digest, used_at__isnull=True).update(used_at=now)
        row = SignInCode.objects.create(
            address_digest=digest,
            code_digest=code_digest(digest, code),
            contact=contact,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.PORTAL_CODE_MINUTES),
        )
        if contact is not None:
            delivery = Delivery.objects.create(
                channel=Delivery.Channel.EMAIL,
                kind=CODE_KIND,
                contact=contact,
                dedupe_key=f"portal.code:{row.pk}",
                payload={"code_row": row.pk, **seal(code)},
                next_attempt_at=now,
                created_at=now,
            )
            send_after_commit([delivery])


def link_token(row_pk: int, code: str) -> str:
    """The signed token of a sign-in link: the code row and its code, for the same minutes."""
    return signing.dumps({"r": row_pk, "c": code}, salt=LINK_SALT)


def _pad(nonce: str) -> int:
    return int(salted_hmac("portal.sign-in.seal", nonce).hexdigest(), 16) % 10**CODE_DIGITS


def seal(code: str) -> dict[str, str]:
    """The code as the outbox row keeps it until it is sent: added to a one-time pad keyed
    with SECRET_KEY, so that the database alone (a backup, the admin's delivery pages) does
    not reveal a code that signs in."""
    nonce = secrets.token_hex(16)
    sealed = (int(code) + _pad(nonce)) % 10**CODE_DIGITS
    return {"nonce": nonce, "sealed": f"{sealed:0{CODE_DIGITS}d}"}


def unseal(payload: dict[str, str]) -> str:
    """The code of `seal`'s output."""
    value = (int(payload["sealed"]) - _pad(payload["nonce"])) % 10**CODE_DIGITS
    return f"{value:0{CODE_DIGITS}d}"


def send_code(delivery: Delivery) -> None:
    """Email a sign-in code and its link (the outbox calls this for `CODE_KIND`). A code that
    was used, replaced or has expired meanwhile, or a contact who may no longer sign in (or
    whose address changed since), is not sent: Undeliverable cancels the delivery."""
    payload = delivery.payload or {}
    row = SignInCode.objects.filter(pk=payload.get("code_row")).first()
    if row is None or row.used_at is not None or row.expires_at <= timezone.now():
        raise Undeliverable("the code was used, replaced or has expired")
    contact = delivery.contact
    # The code goes to the address it was asked for (any of the contact's): only its digest
    # is stored, so the contact's addresses are matched against it.
    address = (
        next(
            (
                email
                for email in contact.addresses.values_list("email", flat=True)
                if address_digest(email) == row.address_digest
            ),
            None,
        )
        if contact is not None
        else None
    )
    if (
        contact is None
        or row.contact_id != contact.pk
        or not contact.is_active
        or not contact.portal_access
        or address is None
    ):
        raise Undeliverable("the contact may no longer sign in with this address")
    to = clean_address(address)
    if not to:
        raise Undeliverable("the contact has no valid email address")
    code = unseal(payload)
    link = settings.SITE_URL + reverse("portal:link", kwargs={"token": link_token(row.pk, code)})
    with translation.override(contact.language):
        context = {
            "code": code,
            "link": link,
            "minutes": settings.PORTAL_CODE_MINUTES,
            "contact": contact,
        }
        subject = render_to_string("portal/email/code.subject.txt", context).strip()
        body = render_to_string("portal/email/code.txt", context)
    # Typed by nobody: other desks' robots and out-of-office rules must not answer it.
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to], headers=headers).send()


def code_verify(*, address: str, code: str, ip: str | None, now: datetime | None = None) -> Contact:
    """The contact signed in by `code` typed for `address`, or SignInRefused."""
    digest = address_digest(address)
    return _verify(
        SignInCode.objects.filter(address_digest=digest, used_at__isnull=True),
        "".join((code or "").split()),
        ip=ip,
        now=now or timezone.now(),
    )


def link_verify(*, token: str, ip: str | None, now: datetime | None = None) -> Contact:
    """The contact signed in by the link from the code email, or SignInRefused. The link is
    the code in another form: the same expiry, single use and attempt count."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=settings.PORTAL_CODE_MINUTES * 60)
        row_pk, code = int(data["r"]), str(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise SignInRefused(
            _("This sign-in link has expired or is not valid. Request a new code.")
        ) from None
    return _verify(
        SignInCode.objects.filter(pk=row_pk, used_at__isnull=True),
        code,
        ip=ip,
        now=now or timezone.now(),
    )


def _verify(rows: QuerySet[SignInCode], code: str, *, ip: str | None, now: datetime) -> Contact:
    ip_key = f"portal:code-verify:ip:{ip}"
    if _over(ip_key, settings.PORTAL_CODE_VERIFY_PER_IP):
        raise _throttled()
    refusal: str | None = None
    contact: Contact | None = None
    # The outcome is decided inside the transaction and raised after it: a wrong code's
    # counted attempt must be committed, not rolled back with the exception.
    with transaction.atomic():
        row = rows.select_for_update().order_by("-created_at", "-pk").first()
        if row is None or row.expires_at <= now:
            refusal = _("This code has expired or was used up. Request a new one.")
        elif row.attempts >= settings.PORTAL_CODE_MAX_ATTEMPTS:
            refusal = _("Too many wrong codes. Request a new one.")
        elif not constant_time_compare(row.code_digest, code_digest(row.address_digest, code)):
            row.attempts += 1
            row.save(update_fields=["attempts"])
            if row.attempts >= settings.PORTAL_CODE_MAX_ATTEMPTS:
                refusal = _("Too many wrong codes. Request a new one.")
            else:
                refusal = _("This code is not correct.")
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
            contact = row.contact
    if refusal is not None:
        _hit(ip_key, settings.PORTAL_CODE_VERIFY_PER_IP)
        raise SignInRefused(refusal)
    # A random code for an unknown address is never sent, so it is never typed; a contact
    # who lost access since the code was sent is refused like a wrong code.
    if contact is None:
        raise SignInRefused(_("This code is not correct."))
    contact.refresh_from_db()
    if not contact.is_active or not contact.portal_access:
        raise SignInRefused(_("This code is not correct."))
    return contact
