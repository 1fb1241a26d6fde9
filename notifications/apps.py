from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from notifications import language  # noqa: F401  (connects the login receiver)
        from notifications.services import on_ticket_event
        from tickets.services import register_event_listener

        # Every timeline entry, in its own transaction: webhook and email deliveries are
        # written to the outbox together with the event that causes them.
        register_event_listener(on_ticket_event)
        # The outbox queues the send task by name; registered here, it runs inline in eager
        # mode (CELERY_TASK_ALWAYS_EAGER) as the other tasks do.
        import notifications.tasks  # noqa: F401

        # The active webhook endpoints and communication templates are cached per process
        # (`webhooks.active_endpoints`, `selectors.active_templates`).
        from helpdesk import configcache
        from notifications.models import MessageTemplate, WebhookEndpoint

        configcache.watch(WebhookEndpoint, MessageTemplate)
