"""Forms of the incident pages. They parse and validate input; `incidents.services` decides."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.models import MajorIncident
from incidents.selectors import INCIDENT_MANAGEMENT_RANK
from tickets.forms import BootstrapFormMixin
from tickets.models import Service
from tickets.priority import Priority

User = get_user_model()


def manager_choices() -> Any:
    """People who can run an incident, incident management first: leads of level 2+, the
    incident management team, admins."""
    return (
        User.objects.filter(
            Q(is_superuser=True)
            | Q(led_teams__level__rank__gte=2)
            | Q(teams__level__rank=INCIDENT_MANAGEMENT_RANK),
            is_active=True,
        )
        .distinct()
        .order_by("username")
    )


class IntentMixin(forms.Form):
    """A hidden idempotency token and the incident's version: a double submit acts once."""

    intent = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("intent", uuid.uuid4().hex)


class DeclareForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    severity = forms.TypedChoiceField(
        label=_("Severity"), choices=Priority.choices, coerce=int, initial=Priority.CRITICAL
    )
    services = forms.ModelMultipleChoiceField(
        label=_("Affected services"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    service_impact = forms.ChoiceField(
        label=_("Service status while open"),
        choices=MajorIncident._meta.get_field("service_impact").choices,
        initial=Service.Status.OUTAGE,
    )
    manager = forms.ModelChoiceField(label=_("Incident manager"), queryset=User.objects.none())
    started_at = forms.DateTimeField(
        label=_("Started at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Blank: now."),
    )
    ticket = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = manager_choices()
        self._style_widgets()

    def clean_started_at(self) -> Any:
        value = self.cleaned_data.get("started_at")
        if value is not None and value > timezone.now():
            raise forms.ValidationError(_("An incident cannot start in the future."))
        return value


class UpdateForm(BootstrapFormMixin, IntentMixin):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[c for c in MajorIncident.Status.choices if c[0] in MajorIncident.OPEN_STATUSES],
    )
    text = forms.CharField(
        label=_("What we know"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text=_(
            "Goes to every linked customer as a public reply, inside the message template in "
            "their language."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_widgets()


class ResolveForm(BootstrapFormMixin, IntentMixin):
    cause = forms.CharField(label=_("Cause"), widget=forms.Textarea(attrs={"rows": 2}))
    solution = forms.CharField(label=_("Solution"), widget=forms.Textarea(attrs={"rows": 2}))
    impact = forms.CharField(
        label=_("Impact"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    lessons_learned = forms.CharField(
        label=_("Lessons learned"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    preventive_measures = forms.CharField(
        label=_("Preventive measures"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    text = forms.CharField(
        label=_("Message to the customers"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=_("Blank: the solution."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_widgets()


class LinkForm(forms.Form):
    """Tickets to link: checked suggestions and/or references typed in."""

    tickets = forms.MultipleChoiceField(required=False)  # choices: the page's candidates
    references = forms.CharField(
        label=_("References"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        help_text=_("More tickets by reference, separated by spaces or commas."),
    )
    source = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, candidates: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tickets"].choices = [(str(t.pk), t.reference) for t in candidates]

    def references_list(self) -> list[str]:
        raw = self.cleaned_data.get("references") or ""
        return [r.strip().upper() for r in raw.replace(",", " ").split() if r.strip()][:500]


class ServiceStatusForm(BootstrapFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Service.Status.choices)
    note = forms.CharField(label=_("Why"), max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_widgets()


class LinkFromListForm(BootstrapFormMixin, forms.Form):
    """The open incident to link the tickets ticked in the ticket list to."""

    incident = forms.ModelChoiceField(
        label=_("Major incident"),
        queryset=MajorIncident.objects.none(),
        empty_label=_("— Choose —"),
    )

    def __init__(self, *args: Any, incidents: list[MajorIncident], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["incident"]
        field.queryset = MajorIncident.objects.filter(pk__in=[i.pk for i in incidents])
        field.choices = [("", _("— Choose —")), *((i.pk, str(i)) for i in incidents)]
        self._style_widgets()
