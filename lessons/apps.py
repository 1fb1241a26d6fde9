from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = _("Lessons learned")

    def ready(self) -> None:
        from lessons.rules import close_guard
        from lessons.services import on_ticket_change
        from tickets.guards import register_transition_guard
        from tickets.services import register_change_hook

        # A ticket that reached incident management or was a major incident is closed only
        # with its closing report: every close path asks this guard, tickets/ never imports us.
        register_transition_guard(close_guard)
        # Resolving such a ticket without its report reminds the owner (through the outbox).
        register_change_hook(on_ticket_change)
