"""Forms of the integrations: a new API token (the settings page and the admin share it), a
new service account, and an integration's severity mapping (validated like the model)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from integrations.models import Integration, severity_map_errors
from integrations.services import TOKEN_DAYS_MAX, TOKEN_NAME_MAX
from tickets.models import Team


def default_token_days() -> int:
    ttl = settings.REST_KNOX.get("TOKEN_TTL")
    return max(1, ttl.days) if ttl else 90


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=TOKEN_NAME_MAX,
        help_text=_("What uses it, e.g. “CRM sync” — to know which one to revoke."),
    )
    days = forms.IntegerField(
        label=_("Valid for (days)"),
        min_value=1,
        max_value=TOKEN_DAYS_MAX,
        initial=default_token_days,
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the token a name."))
        return name


class ServiceAccountForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea, required=False)
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"),
        queryset=Team.objects.filter(is_active=True),
        required=False,
        help_text=_("It works the tickets of these teams (e.g. to resolve them)."),
    )


class SeverityMapField(forms.JSONField):
    def validate(self, value: Any) -> None:
        super().validate(value)
        errors = severity_map_errors(value)
        if errors:
            raise forms.ValidationError(errors)


class IntegrationForm(forms.ModelForm):
    severity_map = SeverityMapField(
        label=_("Severity mapping"),
        help_text=Integration._meta.get_field("severity_map").help_text,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    class Meta:
        model = Integration
        fields = [
            "name",
            "team",
            "service",
            "service_label",
            "account",
            "severity_label",
            "severity_map",
            "default_impact",
            "default_urgency",
            "resolve_tickets",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].required = False
        if isinstance(self.initial.get("severity_map"), dict):
            self.initial["severity_map"] = json.dumps(self.initial["severity_map"], indent=1)
