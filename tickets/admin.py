"""Django admin for the ticket domain: levels, teams, customers, users, tickets and the timeline.

Admins configure the organisation here. Tickets are only inspected and acted on: their status,
owner and priority change through `tickets.services` (the admin actions call them), so the
admin can never bypass the row lock, the `TicketEvent` or the SLA recomputation. The timeline
is append-only and read-only here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from helpdesk.names import display_name_column
from tickets import services
from tickets.models import (
    Contact,
    ContactAddress,
    Customer,
    Message,
    Service,
    SupportLevel,
    Team,
    Ticket,
    TicketEvent,
    normalise_address,
)

User = get_user_model()

# How deep the team list joins the chain in one query; longer chains cost a query per hop.
CHAIN_PREFETCH_DEPTH = 5
# How many failed tickets an action names in its message before it only counts them.
FAILURES_LISTED = 10


def labelled_filter(field: str, title: Any, label: Callable[[str], str]) -> type:
    """A list filter for a code column without choices (a trigger, a delivery's kind) that
    offers the codes in use under their display labels, sorted by label."""

    class LabelledFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
            values = (
                model_admin.get_queryset(request)
                .order_by()
                .values_list(field, flat=True)
                .distinct()
            )
            return sorted(((v, label(v)) for v in values), key=lambda pair: str(pair[1]))

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            if self.value() is None:
                return queryset
            return queryset.filter(**{field: self.value()})

    LabelledFilter.title = title
    return LabelledFilter


class TicketVisibleAdminMixin:
    """For admins of rows that belong to a ticket: only rows of tickets the user may see
    (`Ticket.objects.visible_to`), so the admin is no way around visibility."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        user = request.user
        if user.is_superuser or user.has_perm("tickets.view_all_tickets"):
            return queryset
        return queryset.filter(ticket__in=Ticket.objects.visible_to(user).values("pk"))


# --- Support levels ------------------------------------------------------------------------


def _rank_conflicts(level: SupportLevel, rank: int) -> list[str]:
    """Chain links that would point down or sideways if `level` took `rank`."""
    problems = []
    for team in level.teams.select_related("escalates_to__level"):
        target = team.escalates_to
        if target is not None and target.level_id != level.pk and target.level.rank <= rank:
            problems.append(f"{team} → {target}")
    lower = Team.objects.filter(escalates_to__level=level).exclude(level=level)
    for team in lower.select_related("level", "escalates_to"):
        if team.level.rank >= rank:
            problems.append(f"{team} → {team.escalates_to}")
    return problems


class SupportLevelAdminForm(forms.ModelForm):
    class Meta:
        model = SupportLevel
        fields = ("rank", "name", "name_de", "description")

    def clean_rank(self) -> int:
        rank: int = self.cleaned_data["rank"]
        if self.instance.pk is not None and rank != self.instance.rank:
            problems = _rank_conflicts(self.instance, rank)
            if problems:
                raise ValidationError(
                    _(
                        "With this rank these teams would no longer escalate to a higher "
                        "level: %(links)s."
                    ),
                    params={"links": "; ".join(problems)},
                    code="chain_order",
                )
        return rank


@admin.register(SupportLevel)
class SupportLevelAdmin(admin.ModelAdmin):
    form = SupportLevelAdminForm
    list_display = ("rank", display_name_column, "team_count")
    list_display_links = ("rank", display_name_column)
    search_fields = ("name", "name_de")
    ordering = ("rank",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SupportLevel]:
        return super().get_queryset(request).annotate(_team_count=Count("teams"))

    @admin.display(description=_("teams"), ordering="_team_count")
    def team_count(self, obj: SupportLevel) -> int:
        return getattr(obj, "_team_count", 0)


# --- Teams and the escalation chain --------------------------------------------------------


def format_chain(team: Team, *, with_levels: bool = False) -> str:
    """The team and the teams above it, e.g. "Service Desk → Product Experts → Management"."""
    if team.pk is None:
        return ""

    def label(t: Team) -> str:
        return f"{t.name} ({t.level.name})" if with_levels else t.name

    teams = [team, *team.chain()]
    text = " → ".join(label(t) for t in teams)
    if team.chain_has_cycle():
        last = teams[-1].escalates_to
        text += " → " + _("%(team)s … (cycle)") % {"team": last.name if last else "?"}
    return text


class TeamAdminForm(forms.ModelForm):
    """Keeps the escalation chain a chain: no self-links, no cycles, always upwards."""

    class Meta:
        model = Team
        fields = ("name", "kind", "level", "email", "is_active", "lead", "members", "escalates_to")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        level: SupportLevel | None = cleaned.get("level")
        target: Team | None = cleaned.get("escalates_to")
        team = self.instance
        if target is not None:
            self._check_target(team, kind, level, target)
        if team.pk is not None:
            self._check_teams_below(team, kind, level)
        return cleaned

    def _check_target(
        self, team: Team, kind: str | None, level: SupportLevel | None, target: Team
    ) -> None:
        if kind == Team.Kind.FUNCTIONAL:
            self.add_error(
                "escalates_to",
                _(
                    "A functional team is brought in laterally and does not escalate up the "
                    "chain; leave this empty or make it a tier team."
                ),
            )
            return
        if team.pk is not None and target.pk == team.pk:
            self.add_error("escalates_to", _("A team cannot escalate to itself."))
            return
        if target.kind == Team.Kind.FUNCTIONAL:
            self.add_error(
                "escalates_to",
                _("“%(team)s” is a functional team; the chain goes through tier teams only.")
                % {"team": target.name},
            )
            return
        # Walk up from the new target: reaching this team again would close a loop.
        path = [target]
        seen = {target.pk}
        current = target.escalates_to
        while current is not None:
            if team.pk is not None and current.pk == team.pk:
                names = " → ".join(t.name for t in [team, *path, team])
                self.add_error(
                    "escalates_to",
                    _("This would create a cycle in the escalation chain: %(chain)s.")
                    % {"chain": names},
                )
                return
            if current.pk in seen:
                self.add_error(
                    "escalates_to",
                    _("The chain above “%(team)s” already loops; fix that team first.")
                    % {"team": target.name},
                )
                return
            seen.add(current.pk)
            path.append(current)
            current = current.escalates_to
        if level is not None and target.level.rank <= level.rank:
            self.add_error(
                "escalates_to",
                _(
                    "“%(team)s” is at level %(target_rank)s; a team escalates to a higher level "
                    "than its own (%(rank)s)."
                )
                % {"team": target.name, "target_rank": target.level.rank, "rank": level.rank},
            )

    def _check_teams_below(self, team: Team, kind: str | None, level: SupportLevel | None) -> None:
        below = list(team.escalated_from.select_related("level"))
        if not below:
            return
        names = ", ".join(t.name for t in below)
        if kind == Team.Kind.FUNCTIONAL:
            self.add_error(
                "kind",
                _("%(teams)s escalate to this team, so it must stay a tier team.")
                % {"teams": names},
            )
        if level is not None:
            too_high = [t for t in below if t.level.rank >= level.rank]
            if too_high:
                self.add_error(
                    "level",
                    _(
                        "%(teams)s escalate to this team from level %(rank)s or above; its "
                        "level must be higher than theirs."
                    )
                    % {
                        "teams": ", ".join(t.name for t in too_high),
                        "rank": min(t.level.rank for t in too_high),
                    },
                )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamAdminForm
    list_display = (
        "name",
        "kind",
        "level",
        "lead",
        "escalates_to",
        "member_count",
        "chain_display",
        "is_active",
    )
    list_filter = ("kind", "level", "is_active")
    search_fields = ("name", "email", "lead__username", "lead__last_name")
    list_select_related = ("level", "lead", "escalates_to")
    autocomplete_fields = ("lead",)
    filter_horizontal = ("members",)
    readonly_fields = ("chain_detail",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "level", "email", "is_active")}),
        (_("People"), {"fields": ("lead", "members")}),
        (_("Escalation chain"), {"fields": ("escalates_to", "chain_detail")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        # Join the chain a few hops deep so that the chain column costs no query per row.
        # (With a select_related of its own, the changelist skips `list_select_related`.)
        hops = ["escalates_to" + "__escalates_to" * i for i in range(CHAIN_PREFETCH_DEPTH)]
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related, *hops, *(f"{hop}__level" for hop in hops))
            .annotate(_member_count=Count("members", distinct=True))
        )

    @admin.display(description=_("members"), ordering="_member_count")
    def member_count(self, obj: Team) -> int:
        return getattr(obj, "_member_count", 0)

    @admin.display(description=_("escalation chain"))
    def chain_display(self, obj: Team) -> str:
        return format_chain(obj) if obj.kind == Team.Kind.TIER else "—"

    @admin.display(description=_("escalation chain"))
    def chain_detail(self, obj: Team) -> str:
        if obj.pk is None:
            return _("Shown after saving.")
        if obj.kind != Team.Kind.TIER:
            return _("Functional teams are brought in laterally; they are not in the chain.")
        return format_chain(obj, with_levels=True)


# --- Customers -----------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "tier", "is_vip", "contract", "email", "active_tickets")
    list_filter = ("kind", "tier", "is_vip", "contract")
    search_fields = ("name", "email", "contract", "phone")
    fieldsets = (
        (None, {"fields": ("name", "kind", "email", "phone")}),
        (_("Service"), {"fields": ("tier", "is_vip", "contract")}),
        (None, {"fields": ("notes", "created_at")}),
    )
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        active = Q(tickets__status__in=Ticket.ACTIVE_STATUSES)
        return super().get_queryset(request).annotate(_active=Count("tickets", filter=active))

    @admin.display(description=_("active tickets"), ordering="_active")
    def active_tickets(self, obj: Customer) -> int:
        return getattr(obj, "_active", 0)


class ContactForm(forms.ModelForm):
    def clean_email(self) -> str:
        email = normalise_address(self.cleaned_data.get("email"))
        taken = ContactAddress.objects.filter(email=email)
        if self.instance.pk is not None:
            taken = taken.exclude(contact=self.instance)
        if taken.exists():
            raise ValidationError(_("Another contact has this email address."))
        return email


class ContactAddressForm(forms.ModelForm):
    def clean_email(self) -> str:
        # Lower case before the unique check, so that "Jo@X" meets "jo@x" as a form error.
        return normalise_address(self.cleaned_data.get("email"))


class ContactAddressFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """The primary address stays one of the contact's addresses, and is not typed again
        below: saving the contact adds it by itself (`Contact.save`)."""
        super().clean()
        primary = normalise_address(self.instance.email)
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.has_changed():
                continue
            was = normalise_address(form.initial.get("email"))
            email = form.cleaned_data.get("email")
            deleted = self.can_delete and self._should_delete_form(form)
            if was == primary and (deleted or email != primary):
                raise ValidationError(
                    _("The primary address cannot be removed. Make another address primary first.")
                )
            if not deleted and email == primary and was != primary:
                raise ValidationError(_("This is the primary address already."))


class ContactAddressInline(admin.TabularInline):
    model = ContactAddress
    form = ContactAddressForm
    formset = ContactAddressFormSet
    extra = 1
    verbose_name = _("email address")
    verbose_name_plural = _("all email addresses (mail from each of them is this contact's)")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    inlines = [ContactAddressInline]
    list_display = ("email", "name", "customer", "language", "portal_access", "is_active")
    list_filter = ("portal_access", "sees_organisation_tickets", "is_active", "language")
    search_fields = ("email", "addresses__email", "name", "customer__name")
    autocomplete_fields = ("customer",)
    readonly_fields = ("created_at",)


# --- Business services ---------------------------------------------------------------------


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = (display_name_column, "owning_team", "criticality", "status", "is_active")
    list_filter = ("status", "criticality", "is_active")
    search_fields = ("name", "name_de")
    autocomplete_fields = ("owning_team",)
    readonly_fields = ("status_changed_at",)


# --- Users: the stock admin plus team memberships ------------------------------------------


class TeamMembershipInline(admin.TabularInline):
    model = Team.members.through
    extra = 0
    autocomplete_fields = ("team",)
    verbose_name = _("team membership")
    verbose_name_plural = _("team memberships")


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = (TeamMembershipInline,)
    list_display = (*DjangoUserAdmin.list_display, "team_list")
    list_filter = (*DjangoUserAdmin.list_filter, "teams")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("teams")

    @admin.display(description=_("teams"))
    def team_list(self, obj: Any) -> str:
        return ", ".join(team.name for team in obj.teams.all())


# --- Tickets ------------------------------------------------------------------------------


class MessageInline(admin.StackedInline):
    """The conversation, read-only: messages are written through the ticket services."""

    model = Message
    extra = 0
    can_delete = False
    fields = ("kind", "author", "author_name", "created_at", "body")
    readonly_fields = fields
    ordering = ("created_at", "pk")
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("author")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _payload_text(event: TicketEvent) -> str:
    if not event.payload:
        return ""
    return json.dumps(event.payload, ensure_ascii=False, sort_keys=True, default=str)


class TicketEventInline(admin.TabularInline):
    """The timeline, read-only: events are append-only and written only by services."""

    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "details")
    readonly_fields = fields
    ordering = ("created_at", "pk")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("details"))
    def details(self, obj: TicketEvent) -> str:
        return _payload_text(obj)


class AssignForm(forms.Form):
    """Input of the "Assign to team…" action."""

    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.filter(is_active=True).select_related("level")
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=User.objects.none(),
        required=False,
        help_text=_("Leave empty to hand the tickets to the team's queue."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agents = Q(teams__isnull=False) | Q(led_teams__isnull=False) | Q(is_superuser=True)
        self.fields["assignee"].queryset = (
            User.objects.filter(agents, is_active=True).distinct().order_by(User.USERNAME_FIELD)
        )


# Errors a service raises for a user's request; the action reports them per ticket.
SERVICE_ERRORS = (TransitionNotAllowed, ConcurrentTransition, PermissionDenied, ValidationError)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or exc.__class__.__name__


# Messages of the transition actions. ngettext runs when the message is shown, in the
# request's language; the literals are here so that `makemessages` finds them.
TRANSITION_TEXTS: dict[str, tuple[Callable[[int], str], Callable[[int], str]]] = {
    "resolve": (
        lambda n: ngettext("%(count)d ticket resolved.", "%(count)d tickets resolved.", n),
        lambda n: ngettext(
            "%(count)d ticket could not be resolved: %(details)s",
            "%(count)d tickets could not be resolved: %(details)s",
            n,
        ),
    ),
    "reopen": (
        lambda n: ngettext("%(count)d ticket reopened.", "%(count)d tickets reopened.", n),
        lambda n: ngettext(
            "%(count)d ticket could not be reopened: %(details)s",
            "%(count)d tickets could not be reopened: %(details)s",
            n,
        ),
    ),
    "close": (
        lambda n: ngettext("%(count)d ticket closed.", "%(count)d tickets closed.", n),
        lambda n: ngettext(
            "%(count)d ticket could not be closed: %(details)s",
            "%(count)d tickets could not be closed: %(details)s",
            n,
        ),
    ),
}


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "subject",
        "status",
        "priority",
        "team",
        "level",
        "assignee",
        "customer",
        "created_at",
    )
    list_display_links = ("reference", "subject")
    list_filter = (
        "status",
        "priority",
        "level",
        "team",
        "channel",
        "is_major_incident",
        "customer__tier",
        "customer__is_vip",
        "created_at",
    )
    search_fields = ("reference", "subject", "customer__name")
    search_help_text = _("Reference, subject or customer name.")
    list_select_related = ("team", "level", "assignee", "customer")
    date_hierarchy = "created_at"
    # A full COUNT(*) over a large ticket table on every page view is not worth it.
    show_full_result_count = False
    list_per_page = 50
    inlines = (MessageInline, TicketEventInline)
    actions = ("resolve_tickets", "reopen_tickets", "close_tickets", "assign_tickets")

    # Only the wording may be corrected here (typos, redacting personal data). Everything with
    # a service of its own (status, owner, priority, followers) changes through the actions or
    # the app, so that it is locked, recorded in the timeline and recomputed.
    editable_fields = ("subject", "description")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "subject",
                    "description",
                    "status",
                    "channel",
                    "customer",
                    "requester",
                    "service",
                )
            },
        ),
        (
            _("Owner"),
            {"fields": ("team", "level", "assignee", "watchers", "created_by")},
        ),
        (
            _("Priority"),
            {"fields": ("impact", "urgency", "priority", "priority_overridden")},
        ),
        (
            _("Escalation"),
            {
                "fields": (
                    ("escalation_cycle", "cycle_started_at"),
                    ("reopen_count", "resumed_at"),
                    "is_major_incident",
                    ("risk_score", "risk_changed_at"),
                    "risk_reasons",
                    "next_check_at",
                ),
            },
        ),
        (
            _("SLA"),
            {
                "classes": ("collapse",),
                "fields": (
                    "sla_policy",
                    "last_progress_at",
                    "first_responded_at",
                    ("first_response_due_at", "first_response_warning_at"),
                    ("first_response_warned_at", "first_response_breached_at"),
                    ("next_update_due_at", "next_update_warning_at"),
                    ("next_update_warned_at", "next_update_breached_at"),
                    ("resolution_due_at", "resolution_warning_at"),
                    ("resolution_warned_at", "resolution_breached_at"),
                    ("sla_paused_at", "sla_paused_seconds"),
                ),
            },
        ),
        (
            _("Timestamps"),
            {"fields": ("created_at", "updated_at", "resolved_at", "closed_at", "version")},
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        names: list[str] = []
        for _name, options in self.fieldsets:
            for entry in options["fields"]:
                names.extend(entry if isinstance(entry, tuple) else (entry,))
        return [name for name in names if name not in self.editable_fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        # The admin obeys the same visibility rule as the UI and the API.
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tickets are opened in the app or the API, through `ticket_create`.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a ticket would erase its append-only timeline, the audit trail.
        return False

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        # Write only what the form changed: a full save would put back the SLA columns and
        # owner as they were when the page loaded, undoing what a service did meanwhile.
        changed = [name for name in form.changed_data if name in self.editable_fields]
        if changed:
            obj.updated_at = timezone.now()
            obj.save(update_fields=[*changed, "updated_at"])

    # --- Actions: thin, one service call per ticket, failures counted, never a 500.

    def _for_each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Ticket],
        operation: Callable[[Ticket], object],
        done: Callable[[int], str],
        failed: Callable[[int], str],
    ) -> None:
        succeeded = 0
        failures: list[str] = []
        for ticket in queryset:
            try:
                operation(ticket)
            except SERVICE_ERRORS as exc:
                failures.append(f"{ticket.reference}: {_error_text(exc)}")
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, done(succeeded) % {"count": succeeded}, messages.SUCCESS)
        if failures:
            listed = "; ".join(failures[:FAILURES_LISTED])
            if len(failures) > FAILURES_LISTED:
                listed += "; …"
            text = failed(len(failures)) % {"count": len(failures), "details": listed}
            self.message_user(request, text, messages.WARNING)

    def _transition(self, request: HttpRequest, queryset: QuerySet[Ticket], name: str) -> None:
        texts = TRANSITION_TEXTS[name]
        self._for_each(
            request,
            queryset,
            lambda ticket: services.ticket_transition(ticket=ticket, actor=request.user, name=name),
            *texts,
        )

    @admin.action(description=_("Resolve selected tickets"), permissions=["change"])
    def resolve_tickets(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._transition(request, queryset, "resolve")

    @admin.action(description=_("Reopen selected tickets"), permissions=["change"])
    def reopen_tickets(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._transition(request, queryset, "reopen")

    @admin.action(description=_("Close selected tickets"), permissions=["change"])
    def close_tickets(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._transition(request, queryset, "close")

    @admin.action(description=_("Assign to team…"), permissions=["change"])
    def assign_tickets(
        self, request: HttpRequest, queryset: QuerySet[Ticket]
    ) -> HttpResponse | None:
        form = AssignForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            self._for_each(
                request,
                queryset,
                lambda ticket: services.ticket_assign(
                    ticket=ticket,
                    actor=request.user,
                    team=data["team"],
                    assignee=data["assignee"],
                    reason=data["reason"],
                ),
                lambda n: ngettext("%(count)d ticket assigned.", "%(count)d tickets assigned.", n),
                lambda n: ngettext(
                    "%(count)d ticket could not be assigned: %(details)s",
                    "%(count)d tickets could not be assigned: %(details)s",
                    n,
                ),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Assign tickets to a team"),
            "opts": self.model._meta,
            "form": form,
            "tickets": queryset,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action": "assign_tickets",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/tickets/ticket/assign.html", context)


# --- The timeline, for audits ----------------------------------------------------------------


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only, nobody adds, edits or deletes here."""

    list_display = ("created_at", "ticket", "kind", "actor", "details")
    list_filter = ("kind", "created_at")
    search_fields = ("ticket__reference", "actor__username")
    search_help_text = _("A ticket reference or an actor's user name, exactly.")
    list_select_related = ("ticket", "actor")
    date_hierarchy = "created_at"
    # Newest recorded first: the order of the append-only log, and an index scan on the key.
    ordering = ("-pk",)
    show_full_result_count = False
    list_per_page = 100
    fields = ("ticket", "kind", "actor", "message", "created_at", "details")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketEvent]:
        queryset = super().get_queryset(request)
        visible = Ticket.objects.visible_to(request.user)
        if visible.query.has_filters():
            queryset = queryset.filter(ticket__in=visible.values("pk"))
        return queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[TicketEvent], search_term: str
    ) -> tuple[QuerySet[TicketEvent], bool]:
        # Exact lookups, resolved first: the stock search ORs case-insensitive matches over
        # two joins, which scans the whole (large, ever-growing) timeline.
        term = search_term.strip()
        if not term:
            return queryset, False
        references = {term, term.upper()}
        ticket = Ticket.objects.filter(reference__in=references).values_list("pk", flat=True)
        if ticket:
            return queryset.filter(ticket_id=ticket[0]), False
        actor = User._default_manager.filter(**{User.USERNAME_FIELD: term})
        return queryset.filter(actor_id__in=actor.values("pk")), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("details"))
    def details(self, obj: TicketEvent) -> str:
        return _payload_text(obj)
