"""The CCs of a ticket: people besides the requester who receive its public replies in CC
and whose replies by mail are accepted (`mail.Participant`).

The first mail's To and Cc people become CCs as it arrives (`mail.services`); agents see and
edit them on the ticket page (`ticket_change_ccs`), with the right to move the ticket. An
address an agent adds becomes a contact as a mailbox makes one of an unknown sender
(`mail.contacts`): of the organisation whose email domain matches, else of a new personal
customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from mail.contacts import contact_for_address
from mail.models import Mailbox, Participant
from notifications.email import clean_address
from tickets.models import Contact, ContactAddress, Ticket, TicketEvent
from tickets.services import TicketError, check_move, record_event, run_change_hooks

# Beyond this many, an address is refused: a reply goes to every CC.
MAX_CCS = 20


@dataclass(frozen=True)
class Cc:
    email: str
    name: str  # the contact's name; empty when the address has no contact (or no name)
    contact_id: int | None = None  # the contact one of whose addresses `email` is


def _owner(field: str) -> Subquery:
    """The value of `field` of the contact whose address is the participant's `email`."""
    return Subquery(ContactAddress.objects.filter(email=OuterRef("email")).values(field)[:1])


def ticket_ccs(ticket: Ticket) -> list[Cc]:
    """The ticket's CCs by address, with their contacts' names (one query)."""
    rows = (
        Participant.objects.filter(ticket=ticket)
        .annotate(contact_name=_owner("contact__name"), contact=_owner("contact_id"))
        .order_by("email")
        .values_list("email", "contact_name", "contact")
    )
    return [Cc(email=email, name=name or "", contact_id=pk) for email, name, pk in rows]


def cc_addresses(ticket: Ticket, *, requester: Contact) -> list[str]:
    """The addresses a public reply goes to in CC (one query): each CC's contact's primary
    address (the address itself when it has no contact), once, leaving out the requester
    whatever address of theirs is a CC."""
    rows = (
        Participant.objects.filter(ticket=ticket)
        .exclude(email__in=ContactAddress.objects.filter(contact=requester).values("email"))
        .annotate(send_to=Coalesce(_owner("contact__email"), "email"))
        .values_list("send_to", flat=True)
    )
    return sorted(set(rows))


def emailed_requester(ticket: Ticket) -> Contact | None:
    """The requester a public reply is emailed to, or None when it is not emailed (no
    requester, an inactive one, or one without a usable address)."""
    contact = ticket.requester
    if contact is None or not contact.is_active or not clean_address(contact.email):
        return None
    return contact


def ccs_of_tickets(ticket_ids: Iterable[int]) -> dict[int, list[str]]:
    """The CC addresses of many tickets at once, by ticket id (one query): for emails that
    go out for many tickets together (a major incident's updates)."""
    ccs: dict[int, list[str]] = {}
    rows = (
        Participant.objects.filter(ticket_id__in=list(ticket_ids))
        .order_by("ticket_id", "email")
        .values_list("ticket_id", "email")
    )
    for ticket_id, email in rows:
        ccs.setdefault(ticket_id, []).append(email)
    return ccs


def reply_recipients(ticket: Ticket, ccs: list[Cc]) -> tuple[Contact | None, list[Cc]]:
    """Who a public reply is emailed to: the requester and the CCs but the requester; no CCs
    when the reply is not emailed at all."""
    requester = emailed_requester(ticket)
    if requester is None:
        return None, []
    return requester, [cc for cc in ccs if cc.contact_id != requester.pk]


def _address(value: str) -> str:
    address = (value or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise TicketError({"email": _("Enter a valid email address.")}) from None
    return address


@transaction.atomic
def ticket_change_ccs(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    add: str = "",
    remove: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Add the address `add` to the ticket's CCs, or remove `remove` from them.

    The right to move the ticket (`check_move`, as for every other edit of it), and the page's
    version: a double submit or a stale page is refused (StaleRequest) rather than applied
    twice. One `details_changed` entry records the CCs before and after; nothing changes
    (and nothing is recorded) when the address is already a CC, or not one."""
    now = now or timezone.now()
    if bool(add) == bool(remove):
        raise TicketError({"email": _("Enter an address to add, or choose one to remove.")})
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("team", "level", "customer", "requester")
        .get(pk=ticket.pk)
    )
    check_move(ticket, actor, expected_version)
    before = sorted(Participant.objects.filter(ticket=ticket).values_list("email", flat=True))
    if add:
        address = _address(add)
        if address in before:
            return ticket
        if Mailbox.objects.filter(address__iexact=address).exists():
            raise TicketError({"email": _("This is one of our own mailboxes.")})
        if len(before) >= MAX_CCS:
            raise TicketError(
                {"email": _("A ticket has at most %(count)d CCs.") % {"count": MAX_CCS}}
            )
        contact = contact_for_address(address, policy=Mailbox.UnknownSenders.DOMAIN_OR_PERSON)
        if contact is None:
            raise TicketError({"email": _("This contact is not active.")})
        if contact.pk == ticket.requester_id:  # by any of the requester's addresses
            raise TicketError({"email": _("This is the ticket's requester.")})
        try:
            with transaction.atomic():
                Participant.objects.create(ticket=ticket, email=address, created_at=now)
        except IntegrityError:  # added by a concurrent request of another page
            return ticket
        after = sorted([*before, address])
    else:
        address = (remove or "").strip().lower()
        if not Participant.objects.filter(ticket=ticket, email=address).delete()[0]:
            return ticket
        after = [email for email in before if email != address]
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=["updated_at", "version"])
    record_event(
        ticket,
        TicketEvent.Kind.DETAILS_CHANGED,
        actor=actor,
        now=now,
        payload={"ccs": {"from": before, "to": after}},
    )
    run_change_hooks(ticket, {"ccs"}, now, actor)
    return ticket
