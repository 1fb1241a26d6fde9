"""The dashboard's filter form and the reassignment form of its action panel."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from dashboard.selectors import DashboardFilters
from tickets.forms import BootstrapFormMixin
from tickets.models import Customer, Service, SupportLevel, Team, Ticket
from tickets.priority import Priority


class DashboardFilterForm(BootstrapFormMixin, forms.Form):
    """The query string: kept in the URL so a lead can bookmark or share a view. Invalid
    values are dropped, never an error page."""

    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("Any team")
    )
    level = forms.ModelChoiceField(
        label=_("Level"),
        queryset=SupportLevel.objects.order_by("rank"),
        required=False,
        empty_label=_("Any level"),
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Any priority")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    tier = forms.ChoiceField(
        label=_("Customer tier"),
        choices=[("", _("Any tier")), *Customer.Tier.choices],
        required=False,
    )
    service = forms.ModelChoiceField(
        label=_("Affected service"),
        queryset=Service.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label=_("Any service"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.select_related("level").order_by(
            "level__rank", "name"
        )
        self._style_widgets()

    def filters(self) -> DashboardFilters:
        """The valid part of the query string (an invalid field counts as not given)."""
        self.is_valid()
        data = {
            name: self.cleaned_data.get(name) for name in self.fields if name not in self.errors
        }
        return DashboardFilters(
            team=data.get("team"),
            level=data.get("level"),
            priority=data.get("priority"),
            tier=data.get("tier") or "",
            service=data.get("service"),
        )


class ReassignForm(BootstrapFormMixin, forms.Form):
    """Give the ticket to another member of its team (or to nobody)."""

    assignee = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("— Nobody —"),
    )

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "reassign-%s")
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = ticket.team.members.filter(is_active=True).order_by(
            "username"
        )
        self.fields["assignee"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )
        self._style_widgets()
