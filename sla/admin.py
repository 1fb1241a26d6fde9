"""Admin for business calendars, SLA policies, tier targets and the severity matrix.

Validation happens here and on the models; recomputation goes through `sla.services`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk import configcache
from helpdesk.durations import DURATION_OVERRIDES, duration_text
from helpdesk.formats import instant_human
from helpdesk.names import display_name_column
from sla import tasks
from sla.clock import (
    CalendarInvalid,
    CalendarSpec,
    NoBusinessHours,
    next_open_instants,
    validate_spec,
)
from sla.models import (
    BusinessCalendar,
    CalendarException,
    OpeningHours,
    RecomputeRun,
    SeverityMatrix,
    SLAPolicy,
    SLATarget,
    TierTarget,
)
from sla.services import calendar_spec, tickets_affected_by
from tickets.models import Customer, Ticket
from tickets.priority import Impact, Priority, Urgency, derive_priority

# Above this many tickets a recomputation runs in the worker instead of the request.
RECOMPUTE_INLINE_LIMIT = 200


def _recompute(
    request: HttpRequest, modeladmin: admin.ModelAdmin, tickets: QuerySet, subject: str = ""
) -> None:
    ids = list(tickets.values_list("pk", flat=True))
    if len(ids) <= RECOMPUTE_INLINE_LIMIT:
        count = tasks.recompute_tickets(ids)
        modeladmin.message_user(
            request,
            ngettext(
                "Recomputed the SLA clock of %(count)d ticket.",
                "Recomputed the SLA clocks of %(count)d tickets.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
    else:
        run = tasks.queue_recompute(ids, subject=subject, requested_by=request.user)
        progress = reverse("admin:sla_recomputerun_change", args=[run.pk])
        modeladmin.message_user(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                ngettext(
                    "Recomputing %(count)d ticket in the background.",
                    "Recomputing %(count)d tickets in the background.",
                    len(ids),
                )
                % {"count": len(ids)},
                progress,
                _("Follow its progress"),
            ),
            messages.INFO,
        )


def _live_rows(formset: BaseInlineFormSet) -> list[dict[str, Any]]:
    return [
        f.cleaned_data
        for f in formset.forms
        if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")
    ]


def _problems(spec_kwargs: dict[str, Any], timezone_name: str) -> list[str]:
    try:
        return validate_spec(CalendarSpec(tz=timezone_name, **spec_kwargs))
    except (CalendarInvalid, ValueError, TypeError) as exc:
        return [str(exc)]


class OpeningHoursFormSet(BaseInlineFormSet):
    """No overlapping intervals (overnight ones included), and some open time unless 24/7."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        weekly: dict[int, list[tuple[dt.time, dt.time]]] = {d: [] for d in range(7)}
        for row in _live_rows(self):
            weekly[int(row["weekday"])].append((row["start"], row["end"]))
        # The exceptions' formset (validated next) checks its dates against these hours.
        self.instance._weekly_in_form = tuple(tuple(sorted(weekly[d])) for d in range(7))
        if self.instance.always_open:
            return
        if not any(weekly.values()):
            raise ValidationError(_("A calendar needs at least one open hour (or 24/7)."))
        problems = _problems(
            {"weekly": tuple(tuple(sorted(weekly[d])) for d in range(7))},
            self.instance.timezone,
        )
        if problems:
            raise ValidationError(problems)


class CalendarExceptionFormSet(BaseInlineFormSet):
    """Special hours must overlap neither each other nor the weekly hours around them (an
    overnight shift of the day before, say): the calendar is checked as a whole."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance.always_open:
            return
        special: dict[dt.date, list[tuple[dt.time, dt.time]]] = {}
        closed: set[dt.date] = set()
        for row in _live_rows(self):
            if row.get("kind") == CalendarException.Kind.SPECIAL and row.get("date"):
                special.setdefault(row["date"], []).append((row["start"], row["end"]))
            elif row.get("date"):
                closed.add(row["date"])
        if not special:
            return
        weekly = getattr(self.instance, "_weekly_in_form", None)
        if weekly is None:  # the hours were not on the form: take the stored ones
            stored = self.instance.as_spec() if self.instance.pk else None
            weekly = stored.weekly if stored is not None else ((),) * 7
        problems = _problems(
            {
                "weekly": weekly,
                "closed_dates": frozenset(closed),
                "special_hours": {d: tuple(sorted(v)) for d, v in special.items()},
            },
            self.instance.timezone,
        )
        if problems:
            raise ValidationError(problems)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    formset = CalendarExceptionFormSet
    extra = 0


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = "__all__"
        widgets = {"timezone": forms.Select(choices=[])}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from sla.models import timezone_choices

        # A view-only user gets the field read-only, i.e. not on the form at all.
        if "timezone" in self.fields:
            self.fields["timezone"].widget.choices = timezone_choices()


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ["name", "timezone", "always_open", "holiday_country", "holiday_subdivision"]
    search_fields = ["name"]
    inlines = [OpeningHoursInline, CalendarExceptionInline]
    readonly_fields = ["next_openings", "upcoming_holidays"]
    actions = ["recompute_open_tickets"]

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # Hours and exceptions are saved after the calendar: bump it so the clock's cached
        # spec of this calendar is rebuilt.
        BusinessCalendar.objects.filter(pk=form.instance.pk).update(updated_at=timezone.now())
        # The update bypasses the signals: the policies cached with this calendar are stale.
        configcache.changed()

    @admin.display(description=_("Next opening instants"))
    def next_openings(self, obj: BusinessCalendar) -> str:
        if obj.pk is None:
            return "–"
        try:
            instants = next_open_instants(calendar_spec(obj), timezone.now(), 5)
        except (NoBusinessHours, CalendarInvalid) as exc:
            return str(exc)
        return format_html_join(", ", "{}", ((instant_human(i),) for i in instants))

    @admin.display(description=_("Holidays in the next 12 months"))
    def upcoming_holidays(self, obj: BusinessCalendar) -> str:
        if obj.pk is None or obj.always_open:
            return "–"
        today = timezone.localdate()
        generated = obj.generated_holidays(range(today.year, today.year + 2))
        custom = {
            e.date: e.name or str(_("closed"))
            for e in obj.exceptions.filter(kind=CalendarException.Kind.CLOSED)
        }
        upcoming = sorted(
            (day, name)
            for day, name in {**generated, **custom}.items()
            if today <= day <= today + dt.timedelta(days=366)
        )
        if not upcoming:
            return "–"
        return format_html_join(", ", "{} ({})", ((date_format(d), n) for d, n in upcoming))

    @admin.action(description=_("Recompute the SLA clocks of open tickets on these calendars"))
    def recompute_open_tickets(self, request: HttpRequest, queryset: QuerySet) -> None:
        tickets = Ticket.objects.none()
        for calendar in queryset:
            tickets = tickets | tickets_affected_by(calendar=calendar)
        _recompute(request, self, tickets.distinct(), ", ".join(c.name for c in queryset))


class SLATargetFormSet(BaseInlineFormSet):
    """An active policy has a target for every priority in its range: a ticket it governs
    must never be left without deadlines."""

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs.setdefault("aria-label", _("Delete"))

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        policy = self.instance
        if not policy.is_active:
            return
        covered = {int(row["priority"]) for row in _live_rows(self) if row.get("priority")}
        needed = set(range(policy.priority_min, policy.priority_max + 1))
        missing = sorted(needed - covered)
        if missing:
            raise ValidationError(
                _(
                    "An active policy needs targets for every priority it covers; missing: "
                    "%(priorities)s."
                )
                % {"priorities": ", ".join(str(Priority(p).label) for p in missing)}
            )


class LabelledRowForm(forms.ModelForm):
    """A row of a tabular inline: the table's column headers are not labels of its inputs,
    so every input is named by its field's label (screen readers, WCAG 1.3.1 / 4.1.2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("aria-label", capfirst(str(field.label)))


class SLATargetInline(admin.TabularInline):
    model = SLATarget
    form = LabelledRowForm
    formset = SLATargetFormSet
    formfield_overrides = DURATION_OVERRIDES
    extra = 0


class TicketConditionsForm(forms.ModelForm):
    """Tick boxes for the customer-tier and channel conditions that policies and escalation
    rules store as JSON lists (nothing ticked: any)."""

    customer_tiers = forms.MultipleChoiceField(
        label=_("customer tiers"),
        choices=Customer.Tier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked matches every tier."),
    )
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=Ticket.Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked matches every channel."),
    )


class SLAPolicyForm(TicketConditionsForm):
    class Meta:
        model = SLAPolicy
        fields = "__all__"


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    form = SLAPolicyForm
    list_display = [
        display_name_column,
        "order",
        "is_active",
        "calendar",
        "priority_range",
        "pending_pauses",
        "governed_tickets",
    ]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active", "calendar"]
    list_select_related = ["calendar"]
    search_fields = ["name", "name_de", "contract"]
    filter_horizontal = ["teams"]
    inlines = [SLATargetInline]
    readonly_fields = ["governed_tickets_list"]
    actions = ["recompute_open_tickets"]

    @admin.display(description=_("priorities"))
    def priority_range(self, obj: SLAPolicy) -> str:
        low, high = Priority(obj.priority_min).label, Priority(obj.priority_max).label
        return str(low) if obj.priority_min == obj.priority_max else f"{low} – {high}"

    @admin.display(description=_("open tickets governed"))
    def governed_tickets(self, obj: SLAPolicy) -> str:
        count = Ticket.objects.active().filter(sla_policy=obj).count()
        url = reverse("admin:tickets_ticket_changelist") + f"?sla_policy__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.display(description=_("Open tickets it governs now"))
    def governed_tickets_list(self, obj: SLAPolicy) -> str:
        if obj.pk is None:
            return "–"
        tickets = list(
            Ticket.objects.active().filter(sla_policy=obj).order_by("resolution_due_at")[:20]
        )
        if not tickets:
            return str(_("none"))
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((t.get_absolute_url(), t.reference) for t in tickets),
        )

    @admin.action(description=_("Recompute the SLA clocks of open tickets under these policies"))
    def recompute_open_tickets(self, request: HttpRequest, queryset: QuerySet) -> None:
        tickets = Ticket.objects.none()
        for policy in queryset:
            tickets = tickets | tickets_affected_by(policy=policy)
        _recompute(request, self, tickets.distinct(), ", ".join(p.name for p in queryset))


@admin.register(RecomputeRun)
class RecomputeRunAdmin(admin.ModelAdmin):
    """The background recomputations and how far each has come (read-only: the worker
    writes them)."""

    list_display = ["created_at", "subject", "requested_by", "progress", "finished_at"]
    list_select_related = ["requested_by"]
    readonly_fields = ["created_at", "subject", "requested_by", "progress", "finished_at"]
    fields = readonly_fields

    @admin.display(description=_("progress"))
    def progress(self, obj: RecomputeRun) -> str:
        return format_html(
            '<progress max="100" value="{}"></progress> {}',
            obj.percent,
            _("%(done)s of %(total)s tickets (%(percent)s %%)")
            % {"done": obj.done, "total": obj.total, "percent": obj.percent},
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TierTarget)
class TierTargetAdmin(admin.ModelAdmin):
    list_display = ["level", "acknowledge_within_text", "calendar"]
    list_select_related = ["level", "calendar"]
    formfield_overrides = DURATION_OVERRIDES

    @admin.display(description=_("acknowledge within"), ordering="acknowledge_within")
    def acknowledge_within_text(self, obj: TierTarget) -> str:
        return duration_text(obj.acknowledge_within)


def _cell_name(impact: int, urgency: int) -> str:
    return f"cell_{impact}_{urgency}"


class _SeverityMatrixFormBase(forms.ModelForm):
    """The grid as one select per impact × urgency cell (cells declared below)."""

    class Meta:
        model = SeverityMatrix
        fields = ["name", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid = self.instance.grid or {}
        for impact in Impact.values:
            for urgency in Urgency.values:
                self.initial.setdefault(
                    _cell_name(impact, urgency),
                    grid.get(SeverityMatrix.key(impact, urgency), derive_priority(impact, urgency)),
                )

    def _update_errors(self, errors: ValidationError) -> None:
        # The model checks its `grid`, which is not a field of this form: its complaint is
        # about the grid as a whole, shown above it, not a crash.
        if hasattr(errors, "error_dict") and "grid" in errors.error_dict:
            errors.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(errors.error_dict.pop("grid"))
        super()._update_errors(errors)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.instance.grid = {
            SeverityMatrix.key(i, u): data.get(_cell_name(i, u))
            for i in Impact.values
            for u in Urgency.values
        }
        if data.get("is_active"):
            others = SeverityMatrix.objects.filter(is_active=True).exclude(pk=self.instance.pk)
            if others.exists():
                raise ValidationError(
                    _("Only one matrix can be active; deactivate “%(name)s” first.")
                    % {"name": others.first().name}
                )
        return data


SeverityMatrixForm = type(
    "SeverityMatrixForm",
    (_SeverityMatrixFormBase,),
    {
        _cell_name(impact, urgency): forms.TypedChoiceField(
            label=format_lazy("{} × {}", impact.label, urgency.label),
            choices=Priority.choices,
            coerce=int,
            widget=forms.Select(
                attrs={
                    "aria-label": format_lazy(
                        "{}: {} × {}: {}", _("Impact"), impact.label, _("Urgency"), urgency.label
                    )
                }
            ),
        )
        for impact in Impact
        for urgency in Urgency
    },
)


@admin.register(SeverityMatrix)
class SeverityMatrixAdmin(admin.ModelAdmin):
    form = SeverityMatrixForm
    list_display = ["name", "is_active", "grid_preview"]

    # The cells are rendered by the template as one table: impact rows, urgency columns.
    fieldsets = [(None, {"fields": ["name", "is_active"]})]
    change_form_template = "admin/sla/severitymatrix/change_form.html"

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any):
        form = context["adminform"].form
        if not self.has_change_permission(request, kwargs.get("obj")):
            for impact in Impact:  # a view-only user sees the grid, greyed out
                for urgency in Urgency:
                    form.fields[_cell_name(impact, urgency)].disabled = True
        context["severity_urgencies"] = [u.label for u in Urgency]
        context["severity_grid"] = [
            (impact.label, [form[_cell_name(impact, u)] for u in Urgency]) for impact in Impact
        ]
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description=_("grid"))
    def grid_preview(self, obj: SeverityMatrix) -> str:
        """One line per impact: the priorities by urgency, as labels."""

        def label(value: Any) -> str:
            try:
                return str(Priority(int(value)).label)
            except (TypeError, ValueError):
                return "?"

        return format_html_join(
            "",
            "<div>{}: {}</div>",
            (
                (
                    impact.label,
                    " · ".join(label(obj.grid.get(SeverityMatrix.key(impact, u))) for u in Urgency),
                )
                for impact in Impact
            ),
        )
