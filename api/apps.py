from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        from api.serializers import ticket_representation
        from notifications.webhooks import register_ticket_representation

        # A webhook payload's ticket is the API's ticket (the same serializer).
        register_ticket_representation(ticket_representation)
