from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Customer portal")

    def ready(self) -> None:
        from mail.outbound import register_resolved_context
        from portal.links import resolved_email_context

        # The resolution email asks for a rating through the portal's signed link.
        register_resolved_context(resolved_email_context)
