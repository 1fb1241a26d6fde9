"""Forms of the escalation UI. They parse and validate input; `escalation.services` decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from escalation.handoff import package_from_history
from escalation.models import Escalation
from escalation.services import Package
from tickets.forms import BootstrapFormMixin
from tickets.models import Message, SupportLevel, Team, Ticket, TicketEvent
from tickets.selectors import TimelineEntry

# How much of the ticket's own history the "What was tried" field quotes: the newest entries
# first, within the field's length; the full history is one click away beside the form.
TRIED_ENTRIES = 10
TRIED_CHARS = 4000
TRIED_ENTRY_CHARS = 600


def tried_since_arrival(timeline: Sequence[TimelineEntry]) -> list[Message]:
    """The agents' public replies and internal notes since the ticket reached its current team
    (its latest hand-off, or its creation), newest first, at most `TRIED_ENTRIES`, read from
    the ticket's timeline (`tickets.selectors.ticket_timeline`) so the page pays no query."""
    arrived = max(
        (
            event.created_at
            for entry in timeline
            if entry.event is not None
            for event in (entry.event, *entry.parts)
            if event.kind == TicketEvent.Kind.TEAM_CHANGED
        ),
        default=None,
    )
    tried = [
        entry.message
        for entry in reversed(timeline)
        if entry.message is not None
        and entry.message.kind in (Message.Kind.REPLY, Message.Kind.NOTE)
        and (arrived is None or entry.message.created_at >= arrived)
    ]
    return tried[:TRIED_ENTRIES]


def prefill_package(ticket: Ticket, tried: Sequence[Message]) -> dict[str, str]:
    """The initial values of the manual escalation form: the package assembled from the
    ticket, with "What was tried" quoting `tried` (`tried_since_arrival`: what this team did,
    newest first), each entry with its time, kind and author, within the field's length."""
    fields = package_from_history(ticket, "", notes=[]).as_fields()
    lines: list[str] = []
    used = 0
    for message in tried:
        body = " ".join(message.body.split())
        if len(body) > TRIED_ENTRY_CHARS:
            body = body[: TRIED_ENTRY_CHARS - 1] + "…"
        line = (
            f"{timezone.localtime(message.created_at):%Y-%m-%d %H:%M} "
            f"{message.get_kind_display()} ({message.display_author}): {body}"
        )
        if used + len(line) > TRIED_CHARS:
            break
        lines.append(line)
        used += len(line) + 1
    fields["actions_taken"] = "\n".join(lines)
    return fields


# The checklist before escalating (seeds 001: "Checkliste vor der Eskalation"). Every item
# must be ticked: escalating is a decision by criteria, not a reflex.
CHECKLIST: tuple[tuple[str, Any], ...] = (
    ("check_competence", _("The problem is beyond what we can solve at our level.")),
    ("check_facts", _("The facts are documented in the ticket.")),
    ("check_measures", _("Immediate measures to limit the damage have been taken.")),
    ("check_impact", _("The impact is known and described in the package above.")),
    ("check_contact", _("I know the right contact at the next level.")),
    ("check_channels", _("The communication channels are ready.")),
    ("check_risks", _("The risks that must be communicated are written down.")),
)


class EscalateForm(BootstrapFormMixin, forms.Form):
    """A manual escalation: where to, why, the information package and the checklist."""

    kind = forms.ChoiceField(
        label=_("Escalate"),
        choices=[
            (Escalation.Kind.HIERARCHICAL, _("Up the escalation chain")),
            (Escalation.Kind.FUNCTIONAL, _("Across to a functional team")),
        ],
        widget=forms.RadioSelect,
    )
    to_team = forms.ModelChoiceField(
        label=_("Functional team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("— Choose a team —"),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("One sentence: why the ticket needs the other team now."),
    )
    # The package. What happened and what was tried are required by the service as well;
    # the form asks for them up front so that every missing piece is shown at once.
    summary = forms.CharField(
        label=_("What happened"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        error_messages={"required": _("Say what happened.")},
    )
    affected = forms.CharField(
        label=_("Who is affected, since when"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
    )
    impact = forms.CharField(
        label=_("Impact"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
    )
    actions_taken = forms.CharField(
        label=_("What was tried"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        error_messages={"required": _("Say what was tried already.")},
    )
    next_steps = forms.CharField(
        label=_("Next steps"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
    )
    risks = forms.CharField(
        label=_("Risks"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
    )

    def __init__(
        self, *args: Any, ticket: Ticket, teams: Sequence[Team] | None = None, **kwargs: Any
    ) -> None:
        """`teams`: the active teams with their levels when the caller has them loaded
        already (the ticket page does), so the functional-team choices cost no query."""
        kwargs.setdefault("auto_id", "escalate-%s")  # unique ids beside the other forms
        super().__init__(*args, **kwargs)
        for name, label in CHECKLIST:
            # Ticked in the browser (`required`) and checked again in `clean`.
            self.fields[name] = forms.BooleanField(
                label=label, required=False, widget=forms.CheckboxInput(attrs={"required": True})
            )
        up = ticket.team.escalates_to
        self.up: Team | None = up if up is not None and up.is_active else None
        self.fields["to_team"].queryset = (
            Team.objects.filter(kind=Team.Kind.FUNCTIONAL, is_active=True)
            .exclude(pk=ticket.team_id)
            .select_related("level")
            .order_by("name")
        )
        if teams is not None:
            functional = [t for t in teams if t.kind == Team.Kind.FUNCTIONAL and t.is_active]
            functional = [t for t in functional if t.pk != ticket.team_id]
            self.fields["to_team"].choices = [
                ("", self.fields["to_team"].empty_label),
                *((t.pk, str(t)) for t in sorted(functional, key=lambda t: t.name)),
            ]
        if not self.is_bound:
            self.initial.setdefault(
                "kind", Escalation.Kind.HIERARCHICAL if self.up else Escalation.Kind.FUNCTIONAL
            )
        self._style_widgets()

    @property
    def checklist(self) -> list[forms.BoundField]:
        return [self[name] for name, _label in CHECKLIST]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        unticked = [name for name, _label in CHECKLIST if not data.get(name)]
        if unticked:
            self.add_error(
                None,
                _(
                    "Work through the checklist before escalating: every item must be ticked "
                    "(%(missing)d still open)."
                )
                % {"missing": len(unticked)},
            )
            for name in unticked:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
        return data

    def package(self) -> Package:
        data = self.cleaned_data
        return Package(**{name: data.get(name) or "" for name in Escalation.PACKAGE_FIELDS})

    def target(self) -> Team | None:
        """The functional team, for a functional escalation (the chain decides otherwise)."""
        if self.cleaned_data["kind"] == Escalation.Kind.FUNCTIONAL:
            return self.cleaned_data.get("to_team")
        return None


class DeescalateForm(BootstrapFormMixin, forms.Form):
    """A lead hands the ticket back down (or across), with a reason."""

    to_team = forms.ModelChoiceField(label=_("Hand back to"), queryset=Team.objects.none())
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=_("Why the ticket goes back; the receiving team reads this."),
    )

    def __init__(self, *args: Any, targets: Sequence[Team], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "deescalate-%s")
        super().__init__(*args, **kwargs)
        field = self.fields["to_team"]
        field.queryset = Team.objects.filter(pk__in=[t.pk for t in targets])
        field.choices = [(t.pk, f"{t.name} · {t.level.name}") for t in targets]
        self._style_widgets()


class AcknowledgeForm(forms.Form):
    """Acknowledge, and whom the ticket goes to with it: nobody new (empty), the acknowledger,
    or (for the lead) a member of the team; the service checks the choice."""

    assignee = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
    )


class EscalationFilterForm(BootstrapFormMixin, forms.Form):
    """The overview's query string. Invalid values are dropped, never an error page."""

    team = forms.ModelChoiceField(
        label=_("Receiving team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("Any team"),
    )
    level = forms.ModelChoiceField(
        label=_("Receiving level"),
        queryset=SupportLevel.objects.order_by("rank"),
        required=False,
        empty_label=_("Any level"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.select_related("level").order_by(
            "level__rank", "name"
        )
        self._style_widgets()
