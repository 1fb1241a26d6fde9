"""Email: one message per delivery (or one digest of held ones), rendered from the templates in
`templates/notifications/email/<kind>.subject.txt|.txt|.html` in the recipient's language and
time zone.

Header values are built from user text (ticket subjects, names), so they are cleaned of every
line break and control character first: nothing a user types can add a header.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from email.utils import formataddr
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.template.loader import select_template
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from escalation.models import Escalation
from notifications.models import Delivery, MessageTemplate, Notification, Preference
from notifications.reasons import reason_of
from sla.clock import is_open, next_open_instants
from sla.models import BusinessCalendar, target_label
from sla.services import calendar_spec
from tickets.models import Message

DIGEST = "digest"
SUBJECT_LIMIT = 180
_SPACE = re.compile(r"\s+")


class Undeliverable(Exception):
    """Nothing can be sent to this recipient (inactive, no valid address): do not retry."""


def clean_header(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """`value` as a safe one-line header value: line breaks, control and format characters
    (CR, LF, NUL, U+2028, …) become spaces, runs of space collapse, the length is capped."""
    chars = [" " if unicodedata.category(c)[0] in "CZ" else c for c in str(value)]
    text = _SPACE.sub(" ", "".join(chars)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_address(value: str) -> str:
    """A valid single address, or "" (never an address with a line break smuggled in)."""
    value = (value or "").strip()
    if not value or any(unicodedata.category(c)[0] in "CZ" for c in value):
        return ""
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


def _domain() -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >")
    return re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"


# --- Holding for business hours ----------------------------------------------------------------


def hold_until(calendar: BusinessCalendar | None, now: dt.datetime) -> dt.datetime | None:
    """When a non-urgent email to someone on `calendar` may go out: None for at once (no
    calendar, or it is open now), else the calendar's next opening."""
    if calendar is None:
        return None
    spec = calendar_spec(calendar)
    if is_open(spec, now):
        return None
    upcoming = next_open_instants(spec, now, 1)
    return upcoming[0] if upcoming else None


# --- Rendering ---------------------------------------------------------------------------------


def _parse(value: Any) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _package(escalation: Escalation) -> list[tuple[str, str]]:
    """The information package in the active language (a rule's is worded from its facts)."""
    fields = escalation.package_text
    return [
        (str(Escalation._meta.get_field(name).verbose_name), fields[name])
        for name in Escalation.PACKAGE_FIELDS
        if fields.get(name, "").strip()
    ]


def _template_text(delivery: Delivery, kind: str, language: str) -> str:
    from notifications.selectors import template_values

    template = (
        MessageTemplate.objects.filter(is_active=True, kind=kind, language=language)
        .order_by("order", "pk")
        .first()
    )
    if template is None or delivery.ticket is None:
        return ""
    return template.render(template_values(delivery.ticket))


def _line(item: Delivery) -> dict[str, Any]:
    return {
        "text": Notification(kind=item.kind, payload=item.payload).text,
        "ticket": item.ticket,
        "url": settings.SITE_URL + item.ticket.get_absolute_url() if item.ticket else "",
        "at": item.created_at,
    }


def context_for(delivery: Delivery, user: Any, language: str) -> dict[str, Any]:
    """What the templates of `delivery.kind` see. Call inside the recipient's language."""
    p = delivery.payload
    ticket = delivery.ticket
    context: dict[str, Any] = {
        "kind": delivery.kind,
        "payload": p,
        "recipient_name": user.get_full_name() or user.get_username(),
        "ticket": ticket,
        "ticket_url": settings.SITE_URL + ticket.get_absolute_url() if ticket else "",
        "site_url": settings.SITE_URL,
        "due_at": _parse(p.get("due_at")),
        "target_label": target_label(p.get("target")),
        "reason": reason_of(p),
        "text": Notification(kind=delivery.kind, payload=p).text if delivery.kind != DIGEST else "",
    }
    if p.get("escalation"):
        escalation = (
            Escalation.objects.filter(pk=p["escalation"])
            .select_related("from_team", "to_team", "from_level", "to_level")
            .first()
        )
        context["escalation"] = escalation
        context["package"] = _package(escalation) if escalation else []
    if delivery.kind == Notification.Kind.STATUS_UPDATE_DUE:
        context["template"] = _template_text(delivery, MessageTemplate.Kind.STATUS_UPDATE, language)
    if delivery.kind == Notification.Kind.TICKET_RESOLVED and ticket is not None:
        context["closing"] = (
            Message.objects.filter(pk=p.get("closing_message")).select_related("author").first()
        )
        context["escalations"] = list(
            ticket.escalations.select_related("from_team", "to_team").order_by("raised_at", "pk")
        )
    if delivery.kind == DIGEST:
        context["items"] = [
            _line(item) for item in delivery.items.select_related("ticket").order_by("created_at")
        ]
    return context


def _render(kind: str, suffix: str, context: dict[str, Any]) -> str:
    template = select_template(
        [f"notifications/email/{kind}{suffix}", f"notifications/email/notice{suffix}"]
    )
    return template.render(context)


def render(delivery: Delivery, user: Any, preference: Preference) -> tuple[str, str, str]:
    """(subject, text, html) of the delivery in the recipient's language and time zone."""
    with (
        translation.override(preference.language),
        timezone.override(ZoneInfo(preference.timezone)),
    ):
        context = context_for(delivery, user, preference.language)
        subject = _render(delivery.kind, ".subject.txt", context)
        text = _render(delivery.kind, ".txt", context)
        html = _render(delivery.kind, ".html", context)
    return clean_header(subject), text.strip() + "\n", html


def send(delivery: Delivery) -> None:
    """Send the delivery's email once. Raises Undeliverable when there is nobody to send to,
    and the mail backend's error (SMTPException, OSError) when sending failed."""
    user = delivery.user
    if user is None or not user.is_active:
        raise Undeliverable("the recipient is inactive or gone")
    address = clean_address(user.email)
    if not address:
        raise Undeliverable("the recipient has no valid email address")
    preference = Preference.for_user(user)
    subject, text, html = render(delivery, user, preference)
    name = clean_header(user.get_full_name() or user.get_username(), limit=80)
    domain = _domain()
    headers = {
        # Stable across retries, so a receiving server can drop a duplicate.
        "Message-ID": f"<delivery-{delivery.pk}@{domain}>",
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    if delivery.ticket is not None:
        # Mail clients thread every message about one ticket together.
        headers["References"] = f"<ticket-{clean_header(delivery.ticket.reference, 40)}@{domain}>"
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[formataddr((name, address))],
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    message.send()


def render_preview(delivery: Delivery) -> tuple[str, str]:
    """(subject, text) for the admin, in the recipient's language."""
    if delivery.user is None:
        return "", ""
    subject, text, _html = render(delivery, delivery.user, Preference.for_user(delivery.user))
    return subject, text
