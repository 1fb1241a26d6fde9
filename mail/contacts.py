"""Who a new email address becomes: the rule the mailboxes apply to unknown senders, and that
agents apply when they add someone in CC by address.

A known address is its contact (None when that contact is inactive). An unknown one becomes
a contact of the organisation whose email domain matches (`CustomerDomain`), else, when the
policy allows, of a new personal customer; with `KNOWN` nobody is created.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from helpdesk import configcache
from mail.models import CustomerDomain, Mailbox
from tickets.models import Contact, Customer


def domain_customers() -> dict[str, int]:
    """Customer id by email domain (`CustomerDomain`), read once per process and kept until a
    domain changes (`helpdesk.configcache`, watched in `MailConfig.ready`): every new sender
    asks, and the table is configuration, small and rarely edited."""
    return configcache.cached(
        "mail.domains",
        lambda: dict(CustomerDomain.objects.values_list("domain", "customer_id")),
    )


def contact_for_address(
    address: str, *, policy: str, name: str = "", language: str = ""
) -> Contact | None:
    """The contact of `address` (lower case), created as `policy` (a
    `Mailbox.UnknownSenders` value) allows; None when the policy turns the address away or
    its contact is inactive. Safe against the same new address written concurrently."""
    contact = Contact.objects.for_address(address)
    if contact is not None:
        return contact if contact.is_active else None
    if policy == Mailbox.UnknownSenders.KNOWN:
        return None
    customer_id = domain_customers().get(address.rsplit("@", 1)[-1])
    if customer_id is None and policy != Mailbox.UnknownSenders.DOMAIN_OR_PERSON:
        return None
    languages = {code for code, _name in settings.LANGUAGES}
    try:
        with transaction.atomic():
            if customer_id is None:
                customer_id = Customer.objects.create(
                    name=name or address, kind=Customer.Kind.PERSON, email=address
                ).pk
            return Contact.objects.create(
                customer_id=customer_id,
                name=name,
                email=address,
                language=language if language in languages else settings.LANGUAGE_CODE,
            )
    except IntegrityError:  # the same new address, written by a concurrent request
        return Contact.objects.for_address(address)
