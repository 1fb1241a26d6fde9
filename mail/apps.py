from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "mail"
    verbose_name = _("Email")

    def ready(self) -> None:
        from mail.outbound import DELIVERY_KINDS, on_ticket_event, send_delivery
        from notifications.outbox import register_email_sender
        from tickets.services import register_event_listener

        # Public replies and resolutions are emailed to the requester: the deliveries are
        # written to the outbox in the transaction of the timeline entry that causes them.
        register_event_listener(on_ticket_event)
        # The outbox sends them with our headers (threading, Reply-To the mailbox).
        for kind in DELIVERY_KINDS:
            register_email_sender(kind, send_delivery)
        import mail.tasks  # noqa: F401

        # The mailboxes' addresses and the customers' email domains are cached per process
        # (`services.our_addresses`, `contacts.domain_customers`).
        from helpdesk import configcache
        from mail.models import CustomerDomain, Mailbox

        configcache.watch(Mailbox, CustomerDomain)
