from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from helpdesk import configcache
        from integrations import accounts, services
        from integrations.models import Integration, ServiceAccount
        from tickets.models import Service

        accounts.connect()
        # The alert intake reads integrations by token from the configuration cache
        # (`services.integration_for_token`): a change of one, or of what it holds, empties it.
        configcache.watch(Integration, ServiceAccount, Service)
        post_save.connect(
            services.user_changed,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="integrations.user_changed",
        )
