"""Forms of the agent UI. They parse and validate input; the services decide and write."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from helpdesk import uploads
from tickets import selectors
from tickets.models import TRANSITION_NAMES, Customer, Service, SupportLevel, Team, Ticket
from tickets.priority import Impact, Priority, Urgency
from tickets.services import NewTicket

User = get_user_model()


class BootstrapFormMixin:
    """Gives every widget its Bootstrap class, and marks invalid fields after validation."""

    def _style_widgets(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
                continue
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                widget = self.fields[name].widget  # type: ignore[attr-defined]
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                widget.attrs["aria-invalid"] = "true"


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError/TicketError on `form`: keyed messages on the matching
    field, everything else (and keys the form does not have) above the form."""
    if hasattr(error, "error_dict"):
        for key, errors in error.error_dict.items():
            messages = [m for e in errors for m in e.messages]
            form.add_error(key if key in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def user_label(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


def grouped_assignee_choices(teams: Iterable[Team]) -> list[tuple[Any, Any]]:
    """Agents grouped by team (lead first), for an assignee select; the service checks that the
    chosen agent belongs to the chosen team."""
    choices: list[tuple[Any, Any]] = [("", _("— Unassigned —"))]
    for team in teams:
        people = {m.pk: m for m in team.members.all() if m.is_active}
        if team.lead is not None and team.lead.is_active:
            people.setdefault(team.lead.pk, team.lead)
        options = sorted(((pk, user_label(u)) for pk, u in people.items()), key=lambda c: c[1])
        if options:
            choices.append((team.name, options))
    return choices


class AttachmentsFormMixin:
    """A form with an `attachments` field that shows why the upload handler stopped the
    request's upload (`helpdesk.uploads.refusal(request)`), if it did: the form is then
    invalid, and nothing that arrived is saved."""

    def __init__(self, *args: Any, upload_refusal: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_refusal = upload_refusal

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # type: ignore[misc]
        if self.upload_refusal:
            self.add_error("attachments", self.upload_refusal)  # type: ignore[attr-defined]
        return cleaned


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files from one `<input type="file" multiple>`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        if len(files) > settings.ATTACHMENT_MAX_FILES:
            raise forms.ValidationError(uploads.too_many_message())
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


# --- The ticket list --------------------------------------------------------------------------


class TicketFilterForm(BootstrapFormMixin, forms.Form):
    """The list's query string. Invalid values are dropped, never an error page; the list
    shows an unknown service as a form error (the view decides, see `unknown_service`)."""

    scope = forms.ChoiceField(
        label=_("Show"), choices=selectors.Scope.CHOICES, required=False, widget=forms.RadioSelect
    )
    status = forms.MultipleChoiceField(
        label=_("Status"),
        choices=Ticket.Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Any priority")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("Any team")
    )
    level = forms.ModelChoiceField(
        label=_("Level"),
        queryset=SupportLevel.objects.all(),
        required=False,
        empty_label=_("Any level"),
    )
    # Without `services` (saved views, their counts) any pk is taken as it is, without a query:
    # a view naming a service removed since then lists no tickets.
    service = forms.IntegerField(label=_("Service"), min_value=1, required=False)
    q = forms.CharField(
        label=_("Search"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Subject, reference, customer or description"),
                "autocomplete": "off",
            }
        ),
    )
    sla = forms.ChoiceField(label=_("SLA"), choices=selectors.SlaFilter.CHOICES, required=False)
    sort = forms.ChoiceField(label=_("Sort"), choices=selectors.SORT_CHOICES, required=False)
    unassigned = forms.BooleanField(label=_("Unassigned"), required=False)
    escalated = forms.BooleanField(label=_("Escalated to its team"), required=False)
    waiting = forms.BooleanField(label=_("Customer answered last"), required=False)

    # The fields a saved view keeps (the page cursors `after`/`before` are not among them).
    QUERY_FIELDS = (
        "scope",
        "status",
        "priority",
        "team",
        "level",
        "service",
        "q",
        "sla",
        "sort",
        "unassigned",
        "escalated",
        "waiting",
    )

    def __init__(
        self,
        *args: Any,
        teams: Sequence[Team] | None = None,
        levels: Sequence[SupportLevel] | None = None,
        services: Sequence[Service] | None = None,
        **kwargs: Any,
    ) -> None:
        """`teams` and `levels`: the choices, when the caller has loaded them once for several
        forms (the saved views' counts), so that validating a form costs no query. `services`:
        the service filter's choices (the list page); a value not among them is an error."""
        super().__init__(*args, **kwargs)
        if services is not None:
            self.fields["service"] = forms.TypedChoiceField(
                label=_("Service"),
                choices=[("", _("Any service")), *((s.pk, str(s)) for s in services)],
                coerce=int,
                empty_value=None,
                required=False,
                error_messages={
                    "invalid_choice": _("There is no such service; choose one from the list.")
                },
            )
        self._teams = {t.pk: t for t in teams} if teams is not None else None
        self._levels = {lv.pk: lv for lv in levels} if levels is not None else None
        if self._teams is not None:
            self.fields["team"] = forms.TypedChoiceField(
                label=_("Team"),
                choices=[("", _("Any team")), *((pk, str(t)) for pk, t in self._teams.items())],
                coerce=int,
                required=False,
            )
        else:
            self.fields["team"].queryset = selectors.filter_teams()
        if self._levels is not None:
            self.fields["level"] = forms.TypedChoiceField(
                label=_("Level"),
                choices=[("", _("Any level")), *((pk, str(lv)) for pk, lv in self._levels.items())],
                coerce=int,
                required=False,
            )
        self._style_widgets()

    def unknown_service(self) -> bool:
        """Whether the query names a service that does not exist (call after `is_valid()`)."""
        return "service" in self.errors

    def clean_team(self) -> Team | None:
        return self._lookup(self.cleaned_data.get("team"), self._teams)

    def clean_level(self) -> SupportLevel | None:
        return self._lookup(self.cleaned_data.get("level"), self._levels)

    @staticmethod
    def _lookup(value: Any, rows: dict[int, Any] | None) -> Any:
        """The row itself: from the preloaded `rows` when the field holds its pk."""
        if rows is None or not isinstance(value, int):
            return value or None
        return rows.get(value)

    def filters(self) -> selectors.TicketFilters:
        """The valid part of the query string (call after `is_valid()`)."""
        data = getattr(self, "cleaned_data", {})
        return selectors.TicketFilters(
            scope=data.get("scope") or selectors.Scope.ALL,
            statuses=tuple(data.get("status") or ()),
            priority=data.get("priority"),
            team=data.get("team"),
            level=data.get("level"),
            service=data.get("service"),
            q=data.get("q") or "",
            sla=data.get("sla") or "",
            sort=data.get("sort") or selectors.DEFAULT_SORT,
            unassigned=bool(data.get("unassigned")),
            escalated=bool(data.get("escalated")),
            waiting=bool(data.get("waiting")),
        )

    def query_string(self) -> str:
        """The valid filters as a normalised query string (call after `is_valid()`): what a
        saved view stores. Invalid values and empty fields are left out."""
        data = getattr(self, "cleaned_data", {})
        pairs: list[tuple[str, str]] = []
        for name in self.QUERY_FIELDS:
            value = data.get(name)
            if value in (None, "", False, [], ()):
                continue
            if name == "sort" and value == selectors.DEFAULT_SORT:
                continue
            if name == "scope" and value == selectors.Scope.ALL:
                continue
            if isinstance(value, list | tuple):
                pairs.extend((name, str(v)) for v in value)
            elif value is True:
                pairs.append((name, "1"))
            elif isinstance(value, Team | SupportLevel):
                pairs.append((name, str(value.pk)))
            else:
                pairs.append((name, str(value)))
        return urlencode(pairs)


# --- Creating a ticket ------------------------------------------------------------------------


class TicketCreateForm(AttachmentsFormMixin, BootstrapFormMixin, forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    customer = forms.ModelChoiceField(
        label=_("Customer"),
        queryset=Customer.objects.order_by("name"),
        required=False,
        empty_label=_("— No customer —"),
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none())
    impact = forms.TypedChoiceField(
        label=_("Impact"), choices=Impact.choices, coerce=int, initial=Impact.MODERATE
    )
    urgency = forms.TypedChoiceField(
        label=_("Urgency"), choices=Urgency.choices, coerce=int, initial=Urgency.MEDIUM
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=Ticket.Channel.choices, initial=Ticket.Channel.PHONE
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text=_("Optional. Must be a member of the chosen team."),
    )
    service = forms.ModelChoiceField(
        label=_("Affected service"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        empty_label=_("— No service —"),
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, teams: Sequence[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        team_field.queryset = Team.objects.filter(is_active=True)
        team_field.choices = [("", _("— Choose a team —")), *((t.pk, str(t)) for t in teams)]
        self.fields["assignee"].choices = grouped_assignee_choices(teams)
        self._style_widgets()

    def new_ticket(self) -> NewTicket:
        data = self.cleaned_data
        return NewTicket(
            subject=data["subject"],
            description=data["description"],
            team=data["team"],
            customer=data["customer"],
            impact=data["impact"],
            urgency=data["urgency"],
            channel=data["channel"],
            assignee=data["assignee"],
            service=data.get("service"),
        )


class TicketServiceForm(BootstrapFormMixin, forms.Form):
    """The affected service of a ticket (blank: none)."""

    service = forms.ModelChoiceField(
        label=_("Affected service"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        empty_label=_("— No service —"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_widgets()


# --- Actions on a ticket ----------------------------------------------------------------------


class MessageForm(AttachmentsFormMixin, BootstrapFormMixin, forms.Form):
    """A public reply, or with `internal` ticked an internal note."""

    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("Write a reply…")}),
    )
    internal = forms.BooleanField(
        label=_("Internal note"),
        required=False,
        help_text=_("Only agents see internal notes, never the customer."),
    )
    attachments = MultipleFileField(label=_("Attachments"))
    # The idempotency token: a new one for every blank form, kept when the form comes back with
    # errors, so that sending the same form twice sends one message.
    intent = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("intent", uuid.uuid4().hex)
        self._style_widgets()


class AssignForm(BootstrapFormMixin, forms.Form):
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none())
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=User.objects.filter(is_active=True), required=False
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(self, *args: Any, teams: Sequence[Team], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign-%s")  # unique ids beside the other forms
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        team_field.queryset = Team.objects.filter(is_active=True)
        team_field.choices = [(t.pk, str(t)) for t in teams]
        self.fields["assignee"].choices = grouped_assignee_choices(teams)
        self._style_widgets()


class PriorityForm(BootstrapFormMixin, forms.Form):
    """Re-assess impact and urgency (priority follows the matrix) or override the priority."""

    impact = forms.TypedChoiceField(label=_("Impact"), choices=Impact.choices, coerce=int)
    urgency = forms.TypedChoiceField(label=_("Urgency"), choices=Urgency.choices, coerce=int)
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Derive from impact and urgency")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "priority-%s")  # unique ids beside the other forms
        super().__init__(*args, **kwargs)
        self._style_widgets()


def transition_choices() -> list[tuple[str, str]]:
    """(name, label) of every status change, in the order the ticket page offers them."""
    labels = {
        t.name: str(t.custom.get("label", t.name))
        for t in Ticket._meta.get_field("status").get_all_transitions(Ticket)  # type: ignore[union-attr]
    }
    return [(name, labels.get(name, name)) for name in TRANSITION_NAMES]


class BulkForm(BootstrapFormMixin, forms.Form):
    """A bulk action on the tickets ticked in the list. Each ticked box is "REFERENCE:version"
    (the version the list showed), so that a ticket changed since is refused as stale."""

    ACTIONS = (
        ("assign", _("Assign")),
        ("transition", _("Change status")),
        ("follow", _("Follow")),
        ("unfollow", _("Unfollow")),
    )

    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    transition = forms.ChoiceField(label=_("New status"), required=False)
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("Keep each ticket's team"),
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=User.objects.filter(is_active=True), required=False
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(self, *args: Any, teams: Sequence[Team], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "bulk-%s")
        super().__init__(*args, **kwargs)
        self.fields["transition"].choices = [("", _("— Choose —")), *transition_choices()]
        self.fields["team"].queryset = Team.objects.filter(is_active=True)
        self.fields["team"].choices = [
            ("", _("Keep each ticket's team")),
            *((t.pk, str(t)) for t in teams),
        ]
        self.fields["assignee"].choices = grouped_assignee_choices(teams)
        self._style_widgets()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # The ticked rows: "REFERENCE:version", each reference once.
        self.items: list[tuple[str, int | None]] = []
        seen = set()
        raw_items = self.data.getlist("tickets") if hasattr(self.data, "getlist") else []
        for raw in raw_items:
            reference, _sep, version = str(raw).partition(":")
            reference = reference.strip()
            if reference and reference not in seen:
                seen.add(reference)
                self.items.append((reference, int(version) if version.isdigit() else None))
        if not self.items:
            self.add_error(None, _("Tick the tickets to change first."))
        action = data.get("action")
        if action == "transition" and not data.get("transition"):
            self.add_error("transition", _("Choose the new status."))
        if action == "assign" and not data.get("team") and not data.get("assignee"):
            self.add_error("assignee", _("Choose a team or an assignee."))
        return data


class SavedViewForm(BootstrapFormMixin, forms.Form):
    """The name to save the list's current filters under."""

    name = forms.CharField(label=_("Name of the view"), max_length=60)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "view-%s")
        super().__init__(*args, **kwargs)
        self._style_widgets()
