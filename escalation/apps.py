from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = _("Escalation")

    def ready(self) -> None:
        from escalation.evaluation import on_ticket_change
        from escalation.opening import on_tickets_change
        from escalation.recompute import recompute_many
        from escalation.wording import reason_text
        from notifications.reasons import register_reason_wording
        from sla.services import register_batch_recompute
        from tickets.services import register_change_hook

        # Runs after the SLA hook (app order): evaluates the rules on the fresh deadlines;
        # set-based for many tickets opened together.
        register_change_hook(on_ticket_change, many=on_tickets_change)
        # Notices word a rule's reason from its facts in each reader's language.
        register_reason_wording(reason_text)
        # Recomputing many clocks goes through the sweep's set-based lane, in batches.
        register_batch_recompute(recompute_many)
        # The active rules are cached per process (`RuleSet.current`), with the teams and
        # levels they name: any change to them is seen by every process at once.
        from escalation.models import EscalationRule
        from helpdesk import configcache
        from tickets.models import SupportLevel, Team

        configcache.watch(EscalationRule, Team, SupportLevel)
