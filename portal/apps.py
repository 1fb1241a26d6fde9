from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Customer portal")

    def ready(self) -> None:
        from mail.outbound import register_resolved_context
        from notifications.outbox import register_email_sender
        from portal.links import resolved_email_context
        from portal.signin import CODE_KIND, send_code

        # The resolution email asks for a rating through the portal's signed link.
        register_resolved_context(resolved_email_context)
        # The sign-in code goes through the outbox, ahead of every other email: it is good
        # for minutes only.
        register_email_sender(CODE_KIND, send_code, urgent=True)
