"""Admin for escalation rules (validated, with a live preview) and the escalation record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from escalation.engine import Escalate
from escalation.models import Escalation, EscalationRule, RuleFiring, SweepFailure
from escalation.preview import would_fire
from escalation.sweep import rules_changed
from helpdesk.durations import DURATION_OVERRIDES
from helpdesk.names import display_name_column
from notifications.admin import ReadOnlyMixin
from sla.admin import TicketConditionsForm
from tickets.admin import TicketVisibleAdminMixin, labelled_filter
from tickets.models import SupportLevel, Team


def trigger_label(code: str) -> str:
    """A trigger code ("no_progress", "sla_breach", empty for manual) as its label."""
    if not code or code == "manual":
        return str(_("manual"))
    try:
        return str(EscalationRule.TriggerChoice(code).label)
    except ValueError:
        return code


TriggerFilter = labelled_filter("trigger", _("trigger"), trigger_label)


@admin.display(description=_("trigger"), ordering="trigger")
def trigger_text(obj: Escalation | RuleFiring) -> str:
    return trigger_label(obj.trigger)


# The query parameter of the preview's instant ("as `sweep_escalations --dry-run --at`").
PREVIEW_AT = "preview_at"


def preview_instant(text: str) -> tuple[dt.datetime, str]:
    """The instant the preview evaluates at: `text` (a local date and time) or now; with an
    error message, and now, when `text` is not a date and time."""
    if not text:
        return timezone.now(), ""
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        return timezone.now(), str(
            _("“%(value)s” is not a date and time; the preview shows now.") % {"value": text}
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed, ""


class EscalationRuleForm(TicketConditionsForm):
    class Meta:
        model = EscalationRule
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        problems = []
        escalate = data.get("escalate")
        levels: list[SupportLevel] = list(data.get("levels") or [])
        teams: list[Team] = list(data.get("teams") or [])
        if escalate == Escalate.HIERARCHICAL:
            top = SupportLevel.objects.order_by("-rank").first()
            if levels and top is not None and all(lv.pk == top.pk for lv in levels):
                problems.append(
                    _(
                        "This rule hands off up the chain, but it only applies on the top level "
                        "(%(level)s), where there is nowhere to go."
                    )
                    % {"level": top}
                )
            tops = [t.name for t in teams if t.escalates_to_id is None]
            if teams and len(tops) == len(teams):
                problems.append(
                    _("None of the chosen teams escalates to another team: %(teams)s.")
                    % {"teams": ", ".join(tops)}
                )
        functional = data.get("functional_team")
        if functional is not None and not functional.is_active:
            problems.append(
                _("The functional team %(team)s is not active; it cannot be reached.")
                % {"team": functional.name}
            )
        cycles = [
            t.name for t in Team.objects.select_related("escalates_to") if t.chain_has_cycle()
        ]
        if escalate == Escalate.HIERARCHICAL and cycles:
            problems.append(
                _("The escalation chain has a cycle through %(teams)s; fix the teams first.")
                % {"teams": ", ".join(sorted(cycles))}
            )
        inactive = [t.name for t in teams if not t.is_active]
        if inactive:
            problems.append(
                _("These teams are not active, the rule never applies to them: %(teams)s.")
                % {"teams": ", ".join(inactive)}
            )
        if problems:
            raise ValidationError(problems)
        return data


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    form = EscalationRuleForm
    formfield_overrides = DURATION_OVERRIDES
    list_display = [display_name_column, "order", "is_active", "trigger", "escalate", "fired_count"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active", "trigger", "escalate"]
    search_fields = ["name", "name_de"]
    filter_horizontal = ["teams", "levels", "notify_users"]
    readonly_fields = ["would_fire_now"]
    fieldsets = [
        (None, {"fields": ["name", "name_de", "order", "is_active"]}),
        (
            _("Trigger"),
            {
                "fields": [
                    "trigger",
                    "sla_target",
                    "threshold",
                    "priority_at_least",
                    "risk_at_least",
                ]
            },
        ),
        (
            _("Conditions (empty = any)"),
            {
                "fields": [
                    "teams",
                    "levels",
                    "priority_min",
                    "priority_max",
                    "customer_tiers",
                    "channels",
                ]
            },
        ),
        (
            _("Actions"),
            {
                "fields": [
                    "escalate",
                    "functional_team",
                    "keep_assignee",
                    "raise_priority_to",
                    "mark_major_incident",
                ]
            },
        ),
        (
            _("Notify"),
            {
                "fields": [
                    "notify_assignee",
                    "notify_team_lead",
                    "notify_target_team",
                    "notify_level_rank",
                    "notify_users",
                ]
            },
        ),
        (_("Preview"), {"fields": ["would_fire_now"]}),
    ]

    @admin.display(description=_("times fired"))
    def fired_count(self, obj: EscalationRule) -> int:
        return obj.firings.count()

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The preview's instant travels on the object: the admin is shared between requests.
            obj.preview_at_text = request.GET.get(PREVIEW_AT, "")
        return obj

    @admin.display(description=_("Open tickets it would fire on"))
    def would_fire_now(self, obj: EscalationRule) -> str:
        if obj.pk is None:
            return "–"
        text = getattr(obj, "preview_at_text", "")
        now, error = preview_instant(text)
        return format_html(
            '<div class="rule-preview">{}{}<p>{}</p></div>',
            format_html(
                '<label for="id_{name}">{label}</label> '
                '<input type="datetime-local" id="id_{name}" name="{name}" value="{value}" '
                'form="rule-preview-form"> '
                '<button type="submit" form="rule-preview-form" class="button">{button}</button>',
                name=PREVIEW_AT,
                label=_("At"),
                value=text if error else timezone.localtime(now).strftime("%Y-%m-%dT%H:%M"),
                button=_("Preview"),
            ),
            format_html('<p class="errornote">{}</p>', error) if error else "",
            self._would_fire(obj, now),
        )

    def _would_fire(self, obj: EscalationRule, now: dt.datetime) -> str:
        hits = would_fire(obj, now)
        if hits is None:
            return str(_("The rule is inactive."))
        if not hits:
            return str(_("none"))
        return format_html_join(
            ", ", '<a href="{}">{}</a>', ((t.get_absolute_url(), t.reference) for t in hits[:50])
        )

    def save_related(self, request: HttpRequest, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        count = rules_changed()
        self.message_user(
            request,
            ngettext(
                "%(count)d open ticket will be looked at again by the next sweep.",
                "%(count)d open tickets will be looked at again by the next sweep.",
                count,
            )
            % {"count": count},
            messages.INFO,
        )

    def delete_model(self, request: HttpRequest, obj: EscalationRule) -> None:
        super().delete_model(request, obj)
        rules_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        super().delete_queryset(request, queryset)
        rules_changed()


@admin.register(Escalation)
class EscalationAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = [
        "ticket",
        "kind",
        "status",
        "from_team",
        "to_team",
        trigger_text,
        "raised_at",
        "ack_due_at",
        "acknowledged_at",
        "package_ok",
    ]
    list_filter = ["status", "kind", "to_level", TriggerFilter]
    list_select_related = ["ticket", "from_team", "to_team"]
    search_fields = ["ticket__reference", "ticket__subject", "reason"]
    date_hierarchy = "raised_at"
    readonly_fields = [f.name for f in Escalation._meta.fields]

    @admin.display(description=_("package complete"), boolean=True)
    def package_ok(self, obj: Escalation) -> bool:
        return obj.package_complete

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # escalations are raised on the ticket page or by rules

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # part of the audit trail

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RuleFiring)
class RuleFiringAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = ["rule", "ticket", "cycle", trigger_text, "reason", "fired_at"]
    list_filter = ["rule", TriggerFilter]
    list_select_related = ["rule", "ticket"]
    search_fields = ["ticket__reference"]
    date_hierarchy = "fired_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SweepFailure)
class SweepFailureAdmin(TicketVisibleAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Tickets the sweep keeps failing on, with the last error and the next try (read-only:
    the sweep writes and clears them)."""

    list_display = ["ticket", "failures", "first_failed_at", "last_failed_at", "retry_at"]
    list_select_related = ["ticket"]
    search_fields = ["ticket__reference"]
    readonly_fields = [f.name for f in SweepFailure._meta.fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
